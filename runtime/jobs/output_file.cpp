#include "runtime/jobs/output_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace sparq::runtime {
namespace {

Error io_error(const std::string& path, const char* what) {
  return Error(fmt::format("{}: {}: {}", path, what, std::strerror(errno)), ErrorKind::invalid_input);
}

constexpr size_t kMaxFrameBytes = size_t{32} << 20;

}  // namespace

OutputFile::OutputFile(std::string path, std::FILE* f, uint64_t bytes)
    : path_(std::move(path)), f_(f), bytes_(bytes), zstd_(nullptr, &ZSTD_freeCCtx) {
  if (path_ != "-" && path_.ends_with(".zst")) {
    zstd_.reset(ZSTD_createCCtx());
    ZSTD_CCtx_setParameter(zstd_.get(), ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(zstd_.get(), ZSTD_c_checksumFlag, 1);
  }
}

Result<std::unique_ptr<OutputFile>> OutputFile::open(const std::string& path, uint64_t keep_bytes) {
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
  if (ftruncate(fd, off_t(keep_bytes)) != 0 || lseek(fd, off_t(keep_bytes), SEEK_SET) < 0) {
    ::close(fd);
    return io_error(partial, "cannot truncate output");
  }
  std::FILE* f = fdopen(fd, "r+b");
  if (!f) {
    ::close(fd);
    return io_error(partial, "cannot open output");
  }
  return std::unique_ptr<OutputFile>(new OutputFile(path, f, keep_bytes));
}

Result<std::unique_ptr<OutputFile>> OutputFile::create(const std::string& path) {
  if (path == "-") return std::unique_ptr<OutputFile>(new OutputFile(path, stdout, 0));
  return open(path, 0);
}

Result<std::unique_ptr<OutputFile>> OutputFile::resume(const std::string& path, uint64_t committed_bytes) {
  if (path == "-") return Error("a job writing to stdout cannot resume", ErrorKind::invalid_argument);
  return open(path, committed_bytes);
}

OutputFile::~OutputFile() {
  if (is_stdout()) return;
  if (f_) std::fclose(f_);
  if (!committed_ && !keep_partial_) std::remove(partial_path().c_str());
}

Status OutputFile::append(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), f_) != bytes.size()) {
    return io_error(is_stdout() ? "stdout" : partial_path(), "write failed");
  }
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
  if (is_stdout()) return Error("cannot rewrite stdout; write to a file", ErrorKind::invalid_argument);
  if (zstd_) return Error(fmt::format("{}: cannot rewrite a compressed output", path_), ErrorKind::invalid_argument);
  if (offset + bytes.size() > bytes_) return Error(fmt::format("{}: write past the end", partial_path()));
  if (std::fseek(f_, long(offset), SEEK_SET) != 0) return io_error(partial_path(), "seek failed");
  if (std::fwrite(bytes.data(), 1, bytes.size(), f_) != bytes.size()) return io_error(partial_path(), "write failed");
  if (std::fseek(f_, long(bytes_), SEEK_SET) != 0) return io_error(partial_path(), "seek failed");
  return {};
}

Status OutputFile::sync() {
  if (Status s = end_frame(); !s) return s;
  if (std::fflush(f_) != 0) return io_error(is_stdout() ? "stdout" : partial_path(), "write failed");
  if (!is_stdout() && fdatasync(fileno(f_)) != 0) return io_error(partial_path(), "fdatasync failed");
  return {};
}

Status OutputFile::commit() {
  if (Status s = end_frame(); !s) return s;
  if (std::fflush(f_) != 0) return io_error(is_stdout() ? "stdout" : partial_path(), "write failed");
  if (is_stdout()) return {};
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
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error(tmp, "cannot create");
  for (size_t done = 0; done < contents.size();) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Error e = io_error(tmp, "write failed");
      ::close(fd);
      return e;
    }
    done += size_t(n);
  }
  if (fsync(fd) != 0) {
    Error e = io_error(tmp, "fsync failed");
    ::close(fd);
    return e;
  }
  if (::close(fd) != 0) return io_error(tmp, "close failed");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return io_error(path, "cannot rename");
  return sync_parent_directory(path);
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
