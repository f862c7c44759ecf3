// An output that appears whole or not at all: written to `PATH.partial`, then flushed,
// fsynced and renamed over PATH by commit(). A job that dies leaves no file that looks
// complete. "-" writes to stdout (committed by flushing).
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "formats/error.h"

namespace sparq::tools {

class OutputFile {
 public:
  static Result<std::unique_ptr<OutputFile>> create(const std::string& path);
  ~OutputFile();  // removes the partial file when not committed

  Status write(std::string_view bytes);
  // Overwrites bytes at `offset` (file outputs only; headers patched at the end).
  Status write_at(uint64_t offset, std::string_view bytes);
  Status commit();
  bool is_stdout() const { return path_ == "-"; }
  const std::string& path() const { return path_; }

 private:
  OutputFile(std::string path, std::FILE* f) : path_(std::move(path)), f_(f) {}
  std::string path_;
  std::FILE* f_;
  bool committed_ = false;
};

}  // namespace sparq::tools
