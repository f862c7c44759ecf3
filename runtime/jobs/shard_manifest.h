// What a sharded job (N > 1) leaves beside its output, `OUT.manifest.json`, written durably
// before the output is renamed into place, so that `sparq merge` can prove a set of shard
// outputs is complete, consistent and untouched before joining them:
//   {"shard": I, "shards": N, "input_records": records in the whole input,
//    "input_xxh3": hash of all input records, "records": records in this output,
//    "errors": error records among them, "output_sha256": of the output file,
//    "job": the job's fingerprint (model, input, output-affecting options, shard)}
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "formats/error.h"

namespace sparq::runtime {

struct ShardManifest {
  static constexpr int kFormatVersion = 1;
  uint64_t shard = 0, shards = 1;
  uint64_t input_records = 0;
  std::string input_xxh3;
  uint64_t records = 0, errors = 0;
  uint64_t abstained = 0;  // records marked "abstained" (classify --min-score); absent in older manifests: 0
  std::string output_sha256;
  nlohmann::json job;
};

std::string manifest_path(const std::string& output_path);
Status save_manifest(const std::string& path, const ShardManifest& m);
// Errors name the file and the field.
Result<ShardManifest> load_manifest(const std::string& path);

}  // namespace sparq::runtime
