// Model-shaped .sparq files with random weights, for tests and for benchmarks at realistic
// sizes (`sparq synth`).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "formats/error.h"
#include "formats/tensor_codec.h"

namespace sparq::runtime {

struct SynthOptions {
  nlohmann::json architecture;             // from architecture_preset() plus overrides
  formats::EncodeOptions weights;          // linear layers
  formats::EncodeOptions embeddings;       // embedding tables (f32, f16 or q8)
  double sparsity = 0.0;                   // fraction of linear weights (or blocks) zeroed
  bool compress = false;                   // zstd per tensor
  uint64_t seed = 0;
  std::string command_line;                // recorded in the provenance
};

struct SynthSummary {
  uint64_t tensors = 0, parameters = 0, file_bytes = 0;
};

Result<SynthSummary> write_synthetic_model(const SynthOptions& options, const std::string& path);

}  // namespace sparq::runtime
