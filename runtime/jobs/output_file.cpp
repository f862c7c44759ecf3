#include "runtime/jobs/output_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace sparq::runtime {
namespace {

Error io_error(const std::string& path, const char* what) {
  return Error(fmt::format("{}: {}: {}", path, what, std::strerror(errno)), ErrorKind::invalid_input);
}

constexpr size_t kMaxFrameBytes = size_t{32} << 20;

const char* stream_kind(mode_t mode) {
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "a block device";
}

}  // namespace

Result<OutputTarget> resolve_output(const std::string& path) {
  if (path == "-") return OutputTarget{"-", true, "stdout"};
  namespace fs = std::filesystem;
  fs::path p = path;
  // Followed one link at a time so a loop is reported as one (the kernel's limit is 40).
  for (int links = 0;; ++links) {
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0) {
      if (errno != ENOENT) return io_error(p.string(), "cannot use as output");
      fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
      struct stat dst {};
      if (stat(dir.c_str(), &dst) != 0 || !S_ISDIR(dst.st_mode)) {
        return Error(fmt::format("{}: cannot create: {} is not a directory", path, dir.string()));
      }
      return OutputTarget{p.string(), false, ""};
    }
    if (S_ISLNK(st.st_mode)) {
      if (links == 40) return Error(fmt::format("{}: too many levels of symbolic links", path));
      fs::path target = fs::read_symlink(p);
      p = target.is_absolute() ? target : p.parent_path() / target;
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      return Error(fmt::format("{}: is a directory; give a file name for the output", path),
                   ErrorKind::invalid_argument);
    }
    if (S_ISREG(st.st_mode)) return OutputTarget{p.string(), false, ""};
    return OutputTarget{p.string(), true, stream_kind(st.st_mode)};
  }
}

OutputFile::OutputFile(std::string path, std::FILE* f, uint64_t bytes, bool stream)
    : path_(std::move(path)), f_(f), bytes_(bytes), zstd_(nullptr, &ZSTD_freeCCtx), stream_(stream),
      hash_(XXH3_createState(), &XXH3_freeState) {
  XXH3_64bits_reset(hash_.get());
  if (path_ != "-" && path_.ends_with(".zst")) {
    zstd_.reset(ZSTD_createCCtx());
    ZSTD_CCtx_setParameter(zstd_.get(), ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(zstd_.get(), ZSTD_c_checksumFlag, 1);
  }
}

Result<std::unique_ptr<OutputFile>> OutputFile::open(const std::string& path, uint64_t keep_bytes,
                                                    std::optional<uint64_t> keep_xxh3) {
  std::string partial = path + ".partial";
  // Opened without truncating, so a job holding the lock does not lose its file to a second one.
  int fd = ::open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return io_error(partial, keep_bytes ? "cannot reopen output" : "cannot create output");
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Error(fmt::format("{}: another sparq job is writing this output", partial), ErrorKind::invalid_input);
    }
    errno = err;
    return io_error(partial, "cannot lock output");
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || uint64_t(st.st_size) < keep_bytes) {
    ::close(fd);
    return Error(fmt::format("{}: shorter than the {} bytes its checkpoint committed; the partial output was "
                             "changed; restart the job to start over",
                             partial, keep_bytes),
                 ErrorKind::invalid_input)
        .about("restart");
  }
  // Bytes past the checkpoint are what a crash left half-written; the prefix is unchanged.
  if (ftruncate(fd, off_t(keep_bytes)) != 0 || lseek(fd, off_t(keep_bytes), SEEK_SET) < 0) {
    ::close(fd);
    return io_error(partial, "cannot truncate output");
  }
  std::FILE* f = fdopen(fd, "r+b");
  if (!f) {
    ::close(fd);
    return io_error(partial, "cannot open output");
  }
  auto out = std::unique_ptr<OutputFile>(new OutputFile(path, f, 0, false));
  out->keep_partial_ = keep_bytes > 0;  // a file that fails its check stays for the user to see
  std::string buf(size_t{1} << 20, '\0');
  for (uint64_t done = 0; done < keep_bytes;) {
    ssize_t got = pread(fd, buf.data(), size_t(std::min<uint64_t>(buf.size(), keep_bytes - done)), off_t(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return io_error(partial, "read failed");
    XXH3_64bits_update(out->hash_.get(), buf.data(), size_t(got));
    done += uint64_t(got);
  }
  out->bytes_ = keep_bytes;
  if (keep_xxh3 && out->hash() != *keep_xxh3) {
    return Error(fmt::format("{}: its first {} bytes differ from those its checkpoint committed (the partial output "
                             "was changed); restart the job to start over",
                             partial, keep_bytes),
                 ErrorKind::invalid_input)
        .about("restart");
  }
  out->keep_partial_ = false;
  return out;
}

Result<std::unique_ptr<OutputFile>> OutputFile::create(const std::string& path) {
  Result<OutputTarget> target = resolve_output(path);
  if (!target) return target.error();
  if (target->path == "-") return std::unique_ptr<OutputFile>(new OutputFile("-", stdout, 0, true));
  if (target->stream) {
    std::FILE* f = std::fopen(target->path.c_str(), "wb");
    if (!f) return io_error(target->path, "cannot open output");
    return std::unique_ptr<OutputFile>(new OutputFile(target->path, f, 0, true));
  }
  return open(target->path, 0, std::nullopt);
}

Result<std::unique_ptr<OutputFile>> OutputFile::resume(const std::string& path, uint64_t committed_bytes,
                                                       uint64_t committed_xxh3) {
  Result<OutputTarget> target = resolve_output(path);
  if (!target) return target.error();
  if (target->stream) {
    return Error(fmt::format("{}: a job writing to {} cannot resume", path, target->kind), ErrorKind::invalid_argument);
  }
  return open(target->path, committed_bytes, committed_xxh3);
}

uint64_t OutputFile::hash() const { return XXH3_64bits_digest(hash_.get()); }

OutputFile::~OutputFile() {
  if (path_ == "-") return;
  if (is_stream()) {
    if (f_) std::fclose(f_);
    return;
  }
  if (f_) std::fclose(f_);
  if (!committed_ && !keep_partial_) std::remove(partial_path().c_str());
}

Status OutputFile::append(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), f_) != bytes.size()) {
    return io_error(is_stream() ? path_ : partial_path(), "write failed");
  }
  XXH3_64bits_update(hash_.get(), bytes.data(), bytes.size());
  bytes_ += bytes.size();
  return {};
}

Status OutputFile::write(std::string_view bytes) {
  if (!zstd_) return append(bytes);
  pending_ += bytes;
  return pending_.size() >= kMaxFrameBytes ? end_frame() : Status();
}

Status OutputFile::end_frame() {
  if (!zstd_ || pending_.empty()) return {};
  frame_.resize(ZSTD_compressBound(pending_.size()));
  size_t n = ZSTD_compress2(zstd_.get(), frame_.data(), frame_.size(), pending_.data(), pending_.size());
  if (ZSTD_isError(n)) return Error(fmt::format("{}: zstd: {}", partial_path(), ZSTD_getErrorName(n)));
  pending_.clear();
  return append({frame_.data(), n});
}

Status OutputFile::write_at(uint64_t offset, std::string_view bytes) {
  if (is_stream()) {
    return Error(fmt::format("{}: cannot rewrite a stream output; write to a regular file", path_),
                 ErrorKind::invalid_argument);
  }
  if (zstd_) return Error(fmt::format("{}: cannot rewrite a compressed output", path_), ErrorKind::invalid_argument);
  if (offset + bytes.size() > bytes_) return Error(fmt::format("{}: write past the end", partial_path()));
  if (std::fseek(f_, long(offset), SEEK_SET) != 0) return io_error(partial_path(), "seek failed");
  if (std::fwrite(bytes.data(), 1, bytes.size(), f_) != bytes.size()) return io_error(partial_path(), "write failed");
  if (std::fseek(f_, long(bytes_), SEEK_SET) != 0) return io_error(partial_path(), "seek failed");
  return {};
}

Status OutputFile::sync() {
  if (Status s = end_frame(); !s) return s;
  if (std::fflush(f_) != 0) return io_error(is_stream() ? path_ : partial_path(), "write failed");
  if (!is_stream() && fdatasync(fileno(f_)) != 0) return io_error(partial_path(), "fdatasync failed");
  return {};
}

Status OutputFile::commit() {
  if (Status s = end_frame(); !s) return s;
  if (std::fflush(f_) != 0) return io_error(is_stream() ? path_ : partial_path(), "write failed");
  if (is_stream()) return {};
  if (fsync(fileno(f_)) != 0) return io_error(partial_path(), "fsync failed");
  // Renamed while still open (and locked), so no second job can take the partial path's
  // file between the rename and the close.
  if (std::rename(partial_path().c_str(), path_.c_str()) != 0) return io_error(path_, "cannot rename output");
  committed_ = true;
  int rc = std::fclose(f_);
  f_ = nullptr;
  if (rc != 0) return io_error(path_, "close failed");
  return sync_parent_directory(path_);
}

Status write_file_durably(const std::string& path, std::string_view contents) {
  Result<OutputTarget> target = resolve_output(path);
  if (!target) return target.error();
  if (target->stream) {
    Result<std::unique_ptr<OutputFile>> out = OutputFile::create(path);
    if (!out) return out.error();
    if (Status s = (*out)->write(contents); !s) return s;
    return (*out)->commit();
  }
  const std::string tmp = target->path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error(tmp, "cannot create");
  auto fail = [&](const char* what) {
    Error e = io_error(tmp, what);
    if (fd >= 0) ::close(fd);
    std::remove(tmp.c_str());  // a full disk must not leave it behind
    return e;
  };
  for (size_t done = 0; done < contents.size();) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;
      return fail("write failed");
    }
    done += size_t(n);
  }
  if (fsync(fd) != 0) return fail("fsync failed");
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) return fail("close failed");
  if (std::rename(tmp.c_str(), target->path.c_str()) != 0) return fail("cannot rename");
  return sync_parent_directory(target->path);
}

Status sync_parent_directory(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error(dir.string(), "cannot open directory");
  if (fsync(fd) != 0) {
    Error e = io_error(dir.string(), "fsync failed");
    ::close(fd);
    return e;
  }
  ::close(fd);
  return {};
}

}  // namespace sparq::runtime
