// Streaming writer of .sparq files: tensors are appended one at a time (checksummed and
// optionally zstd-compressed as they go), then the metadata, the directory and the header.
// The file appears under its final name only when finish() succeeded (temporary file +
// fsync + rename), so a crash never leaves a half-written model behind.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "formats/error.h"
#include "formats/sparq_file.h"
#include "formats/tensor_desc.h"

namespace sparq::formats {

// One directory record. The directory bytes for `entries` (SPEC.md section 4); shared with tests that build
// deliberately malformed files.
struct DirectoryEntry {
  TensorDesc desc;
  uint8_t compression = 0;
  uint64_t offset = 0, stored_size = 0, raw_size = 0, checksum = 0;
};
std::vector<uint8_t> serialize_directory(const std::vector<DirectoryEntry>& entries);

// Header bytes (SPEC.md section 2), checksum included.
std::vector<uint8_t> serialize_header(const FileHeader& header);

// What add_tensor stored, so that a caller can report it without reading the file back.
struct StoredTensor {
  TensorDesc desc;  // as given; for CSR/BSR `count` is the stored entries / blocks
  Compression compression = Compression::none;  // zstd only where it saved space
  uint64_t raw_size = 0;     // the payload's bytes
  uint64_t stored_size = 0;  // bytes in the file
};

struct WriteOptions {
  bool compress = false;  // zstd per tensor, kept only where it saves space
  int zstd_level = 3;
};

class SparqWriter {
 public:
  static Result<std::unique_ptr<SparqWriter>> create(const std::string& path);
  ~SparqWriter();
  SparqWriter(const SparqWriter&) = delete;
  SparqWriter& operator=(const SparqWriter&) = delete;

  // Validates the descriptor and the payload (size and structure) before writing it.
  Result<StoredTensor> add_tensor(const TensorDesc& desc, std::span<const uint8_t> payload,
                                  const WriteOptions& options = {});

  // Writes metadata and directory, then the header; fsyncs and renames into place.
  // "format", "sparq_version" and "created_utc" are filled in when missing.
  Status finish(nlohmann::json metadata);

  uint64_t bytes_written() const { return position_; }

 private:
  SparqWriter(std::string path, std::string temp_path, std::FILE* file);
  Status write_at_end(const void* data, uint64_t size);
  Status pad_to(uint64_t alignment);
  Error io_error(const std::string& what) const;

  std::string path_, temp_path_;
  std::FILE* file_ = nullptr;
  uint64_t position_ = 0;
  std::vector<DirectoryEntry> entries_;
  std::unordered_set<std::string> names_;
  bool finished_ = false;
};


}  // namespace sparq::formats
