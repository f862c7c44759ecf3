// Raw bytes of a documents file, read in blocks: a file or stdin, decompressed on the fly
// when it holds zstd frames (a `.zst` name, or the zstd magic at the start of any input).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "formats/error.h"

namespace sparq::runtime {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to `n` bytes into `buf`; 0 only at the end of input. An Error (naming the file and,
  // for compressed input, the byte offset) when reading or decompressing fails.
  virtual Result<size_t> read(char* buf, size_t n) = 0;
  // Bytes of the file itself consumed so far: compressed bytes for compressed input, so
  // progress against the file's size stays right.
  virtual uint64_t file_bytes() const = 0;
};

// `path` "-" reads stdin.
Result<std::unique_ptr<ByteSource>> open_byte_source(const std::string& path);

}  // namespace sparq::runtime
