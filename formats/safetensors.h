// Reader of Hugging Face safetensors checkpoints: one `model.safetensors` file, or the
// shards a `model.safetensors.index.json` lists. The format is an 8-byte little-endian
// header length, a JSON header mapping tensor names to {dtype, shape, data_offsets}, then
// the raw tensor bytes. Files are memory-mapped; every header field is validated before
// any byte is read, and every error names the file and the tensor.
//
// Every dtype the format defines is sized and validated, but only F32, F16 and BF16 can be
// read: a checkpoint may carry integer buffers (e.g. BERT's I64 `position_ids`) that an
// importer ignores, so other dtypes are refused when read, naming the tensor and dtype.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "formats/error.h"

namespace sparq::formats {

class MappedFile;

enum class SafetensorsDtype { f32, f16, bf16, other };

struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::f32;
  std::string dtype_name;          // as the header spells it: "F32", "I64", ...
  std::vector<uint64_t> shape;
  std::span<const uint8_t> bytes;  // inside the mapping; little-endian elements
  std::string file;                // the shard it came from, for messages
};

class SafetensorsCheckpoint {
 public:
  // `path` is a .safetensors file, a .index.json file, or a directory holding
  // model.safetensors or model.safetensors.index.json (the single file wins when both
  // exist). Unknown dtypes are refused here, naming the file and the tensor.
  static Result<std::unique_ptr<SafetensorsCheckpoint>> open(const std::string& path);
  ~SafetensorsCheckpoint();

  const std::map<std::string, SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(const std::string& name) const;
  // The files mapped (one, or each shard once).
  std::vector<std::string> files() const;
  // The tensor's values as f32 (converted from f16/bf16), or an error naming it (and, for
  // a dtype other than F32/F16/BF16, its file and dtype).
  Result<std::vector<float>> read_f32(const std::string& name) const;
  // The optional `__metadata__` string map of the (first) header.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::vector<std::unique_ptr<MappedFile>> mappings_;
  std::map<std::string, SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
  friend struct SafetensorsLoader;
};

}  // namespace sparq::formats
