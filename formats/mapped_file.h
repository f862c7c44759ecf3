// A whole file mapped read-only into memory (the way .sparq and safetensors files are
// read: no copy, pages loaded on demand); unmapped when destroyed.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "formats/error.h"

namespace sparq::formats {

class MappedFile {
 public:
  // Errors name the path: cannot open, not a regular file, cannot map.
  static Result<std::unique_ptr<MappedFile>> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  MappedFile() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sparq::formats
