#include "runtime/jobs/byte_source.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/jobs/zstd_byte_source.h"

namespace sparq::runtime {
namespace {

// A file descriptor read with read(2). The first bytes may already have been read (to look
// for the zstd magic); they are handed out first.
class FileByteSource final : public ByteSource {
 public:
  FileByteSource(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~FileByteSource() override {
    if (fd_ != STDIN_FILENO) close(fd_);
  }

  // Reads until `n` bytes or the end of input (a pipe hands out less than asked).
  Result<size_t> read_fully(char* buf, size_t n) {
    size_t got = 0;
    while (got < n) {
      Result<size_t> r = read(buf + got, n - got);
      if (!r) return r.error();
      if (*r == 0) break;
      got += *r;
    }
    return got;
  }

  void unread(std::string head) { head_ = std::move(head), head_pos_ = 0; }

  Result<size_t> read(char* buf, size_t n) override {
    if (head_pos_ < head_.size()) {
      size_t k = std::min(n, head_.size() - head_pos_);
      std::memcpy(buf, head_.data() + head_pos_, k);
      head_pos_ += k;
      return k;
    }
    for (;;) {
      ssize_t r = ::read(fd_, buf, n);
      if (r >= 0) {
        bytes_ += uint64_t(r);
        return size_t(r);
      }
      if (errno != EINTR) return Error(fmt::format("{}: read error: {}", name_, std::strerror(errno)), ErrorKind::invalid_input);
    }
  }

  uint64_t file_bytes() const override { return bytes_ - (head_.size() - head_pos_); }

 private:
  int fd_;
  std::string name_;
  std::string head_;
  size_t head_pos_ = 0;
  uint64_t bytes_ = 0;
};

bool is_zstd_magic(const std::string& head) {
  if (head.size() < 4) return false;
  uint32_t magic = uint32_t(uint8_t(head[0])) | uint32_t(uint8_t(head[1])) << 8 | uint32_t(uint8_t(head[2])) << 16 |
                   uint32_t(uint8_t(head[3])) << 24;
  // A zstd frame, or a skippable frame (0x184D2A50..5F) that zstd streams may start with.
  return magic == 0xFD2FB528u || (magic & 0xFFFFFFF0u) == 0x184D2A50u;
}

}  // namespace

Result<std::unique_ptr<ByteSource>> open_byte_source(const std::string& path) {
  std::string name = path == "-" ? "stdin" : path;
  int fd = path == "-" ? STDIN_FILENO : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error(fmt::format("{}: cannot open documents: {}", path, std::strerror(errno)), ErrorKind::invalid_input);
  }
  auto file = std::make_unique<FileByteSource>(fd, name);
  // Text never starts with the zstd magic (0x28 0xB5 is not UTF-8), so sniffing any input
  // is safe; a `.zst` name is decompressed even without it, to report the bad header.
  std::string head(4, '\0');
  Result<size_t> got = file->read_fully(head.data(), head.size());
  if (!got) return got.error();
  head.resize(*got);
  bool compressed = is_zstd_magic(head) || path.ends_with(".zst");
  file->unread(std::move(head));
  if (compressed) return make_zstd_byte_source(std::move(file), name);
  return std::unique_ptr<ByteSource>(std::move(file));
}

}  // namespace sparq::runtime
