// Reader of .sparq files: maps the file, validates everything (formats/SPEC.md section 6)
// once at open, and hands out zero-copy views of the tensors. Uncompressed payloads are
// used in place from the mapping; zstd payloads are decompressed once into 64-byte-aligned
// memory owned by the reader.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "formats/error.h"
#include "formats/sparq_file.h"
#include "formats/tensor_desc.h"

namespace sparq::formats {

class MappedFile;

struct TensorView {
  TensorDesc desc;
  TensorLayout layout;
  std::span<const uint8_t> payload;  // raw (decompressed) bytes, layout.total_size long
  Compression compression = Compression::none;
  uint64_t offset = 0;       // where the stored bytes are in the file
  uint64_t stored_size = 0;  // bytes on disk

  // A section of the payload reinterpreted as T (sections are 64-byte aligned).
  template <class T>
  std::span<const T> section(const Section& s) const {
    return {reinterpret_cast<const T*>(payload.data() + s.offset), s.size / sizeof(T)};
  }
};

struct ReadOptions {
  bool verify_checksums = true;
};

class SparqReader {
 public:
  // Maps and validates `path`. Every error names the file, and the tensor where one is
  // involved, and the check that failed.
  static Result<std::unique_ptr<SparqReader>> open(const std::string& path,
                                                   const ReadOptions& options = {});
  // Same validation over bytes already in memory (`name` is used in messages). The bytes
  // must outlive the reader.
  static Result<std::unique_ptr<SparqReader>> from_memory(std::span<const uint8_t> bytes,
                                                          const std::string& name,
                                                          const ReadOptions& options = {});
  ~SparqReader();
  SparqReader(const SparqReader&) = delete;
  SparqReader& operator=(const SparqReader&) = delete;

  const std::string& path() const { return path_; }
  const FileHeader& header() const { return header_; }
  const nlohmann::json& metadata() const { return metadata_; }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const TensorView* find(std::string_view name) const;

 private:
  SparqReader() = default;
  Status parse(const ReadOptions& options);

  std::string path_;
  std::span<const uint8_t> bytes_;
  std::unique_ptr<MappedFile> file_;
  FileHeader header_;
  nlohmann::json metadata_;
  std::vector<TensorView> tensors_;
  std::unordered_map<std::string, size_t> by_name_;
  std::vector<std::pair<void*, size_t>> decompressed_;  // mappings of decompressed payloads
};

}  // namespace sparq::formats
