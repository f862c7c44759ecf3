// The durable progress of a resumable document job, kept beside its partial output as
// `OUT.partial.checkpoint` (JSON) and replaced atomically at every chunk boundary, after the
// chunk's records are on disk. A job that finds one picks up where it says: the output is
// cut back to `output_bytes`, the first `records_consumed` input records are read again
// (and must hash to `input_hash`) but not processed, and the counters carry on.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "formats/error.h"

namespace sparq::runtime {

struct JobCheckpoint {
  static constexpr int kFormatVersion = 2;
  // What determines the output bytes: model, input, options (see job_fingerprint()).
  nlohmann::json fingerprint;
  uint64_t records_consumed = 0;  // input records read, whether this shard kept them or not
  uint64_t records_written = 0;   // output records
  uint64_t output_bytes = 0;
  uint64_t input_hash = 0;  // of the records consumed, see InputRecordHash
  uint64_t output_hash = 0;  // XXH3-64 of the output's first output_bytes (OutputFile::hash)
  std::map<std::string, uint64_t> errors_by_code;
  uint64_t truncated_documents = 0, truncated_tokens = 0;
  uint64_t abstained = 0;  // records marked "abstained" (absent in older checkpoints: 0)
  // The kernel level of the run that wrote the latest records. Not part of the fingerprint:
  // a requeued job may land on another node type and must still resume there, but its f32
  // sums (attention, GELU, LayerNorm) round differently per level, so the change is reported.
  std::string isa;

  uint64_t errors() const;
};

std::string checkpoint_path(const std::string& output_path);

// nullopt when there is no checkpoint file.
Result<std::optional<JobCheckpoint>> load_checkpoint(const std::string& path);
Status save_checkpoint(const std::string& path, const JobCheckpoint& checkpoint);

// The top-level fields whose values differ, with both values ("max_length (128 then, 64 now)");
// empty when equal.
std::string fingerprint_differences(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace sparq::runtime
