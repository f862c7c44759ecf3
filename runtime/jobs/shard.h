// Which 1/N of a job's input records this process takes: `--shard I/N`, or the scheduler's
// array index (Slurm job arrays, Kubernetes indexed jobs) when the option is not given.
// Record k belongs to shard k % N: stable, deterministic, and every shard reads the whole
// input, so each knows the input's record count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "formats/error.h"

namespace sparq::runtime {

struct Shard {
  uint64_t index = 0, count = 1;
  std::string source;  // where it came from: the shard option, "SLURM_ARRAY_TASK_ID", ... ("" when unsharded)

  bool takes(uint64_t record_index) const { return record_index % count == index; }
  std::string text() const { return std::to_string(index) + "/" + std::to_string(count); }
};

// "I/N" with 0 <= I < N.
// `source` names where the text came from, in messages ("shard", or a front end's flag).
Result<Shard> parse_shard(const std::string& text, const std::string& source = "shard");

// From `getenv`: SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN, divided by
// SLURM_ARRAY_TASK_STEP, when set) of SLURM_ARRAY_TASK_COUNT, else JOB_COMPLETION_INDEX of SPARQ_SHARD_COUNT; unsharded (0/1)
// when neither index variable is set. An invalid or missing companion variable is an error
// naming it.
Result<Shard> shard_from_environment(const std::function<const char*(const char*)>& getenv);

// `path` with every "{shard}" replaced by the shard's index.
std::string expand_shard_path(const std::string& path, const Shard& shard);

}  // namespace sparq::runtime
