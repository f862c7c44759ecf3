// A scratch directory for fuzz targets whose parser takes a path (the checkpoint, the
// documents reader, safetensors, config.json discovery, planner inputs): each input is
// written to a file there and read back through the same call a user's path reaches. The
// directory is made once per process, on /dev/shm when it exists (no disk traffic at a
// million executions), and removed at exit.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace sparq::fuzz {

class Scratch {
 public:
  static Scratch& get() {
    static Scratch s;
    return s;
  }

  const std::string& dir() const { return dir_; }
  std::string path(std::string_view name) const { return dir_ + "/" + std::string(name); }

  // Replaces `name` with `bytes` and returns its path. Aborts when the file cannot be
  // written: a fuzzer that silently tests nothing is worse than one that stops.
  std::string write(std::string_view name, const void* bytes, size_t size) const {
    std::string p = path(name);
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) std::abort();
    const char* at = static_cast<const char*>(bytes);
    while (size > 0) {
      ssize_t n = ::write(fd, at, size);
      if (n <= 0) std::abort();
      at += n;
      size -= static_cast<size_t>(n);
    }
    ::close(fd);
    return p;
  }
  std::string write(std::string_view name, std::string_view text) const {
    return write(name, text.data(), text.size());
  }
  void remove(std::string_view name) const { ::unlink(path(name).c_str()); }

 private:
  Scratch() {
    std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path().string();
    std::string pattern = base + "/sparq-fuzz-XXXXXX";
    if (!::mkdtemp(pattern.data())) std::abort();
    dir_ = pattern;
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
};

}  // namespace sparq::fuzz
