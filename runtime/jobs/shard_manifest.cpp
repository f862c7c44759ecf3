#include "runtime/jobs/shard_manifest.h"

#include <unistd.h>

#include "formats/input_file.h"

#include <fmt/core.h>

#include <fstream>
#include <sstream>

#include "runtime/jobs/output_file.h"

namespace sparq::runtime {

std::string manifest_path(const std::string& output_path) { return output_path + ".manifest.json"; }

Status save_manifest(const std::string& path, const ShardManifest& m) {
  nlohmann::ordered_json j = {{"version", ShardManifest::kFormatVersion},
                              {"shard", m.shard},
                              {"shards", m.shards},
                              {"input_records", m.input_records},
                              {"input_xxh3", m.input_xxh3},
                              {"records", m.records},
                              {"errors", m.errors},
                              {"abstained", m.abstained},
                              {"output_sha256", m.output_sha256},
                              {"job", m.job}};
  return write_file_durably(path, j.dump(2) + "\n");
}

Result<ShardManifest> load_manifest(const std::string& path) {
  if (access(path.c_str(), F_OK) != 0) {
    return Error(fmt::format("{}: no manifest (is this a sharded job's output?)", path), ErrorKind::invalid_input);
  }
  Result<nlohmann::json> parsed = formats::load_json_file(path, {.max_depth = 64, .max_bytes = size_t{1} << 20});
  if (!parsed) return parsed.error();
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) return Error(fmt::format("{}: not a JSON object", path), ErrorKind::invalid_input);
  std::string field;
  try {
    ShardManifest m;
    auto get = [&](const char* name) -> const nlohmann::json& {
      field = name;
      return j.at(name);
    };
    if (get("version").get<int>() != ShardManifest::kFormatVersion) {
      return Error(fmt::format("{}: manifest version {}, this sparq reads {}", path, j["version"].dump(),
                               ShardManifest::kFormatVersion),
                   ErrorKind::invalid_input);
    }
    m.shard = get("shard").get<uint64_t>();
    m.shards = get("shards").get<uint64_t>();
    m.input_records = get("input_records").get<uint64_t>();
    m.input_xxh3 = get("input_xxh3").get<std::string>();
    m.records = get("records").get<uint64_t>();
    m.errors = get("errors").get<uint64_t>();
    if (j.contains("abstained")) m.abstained = get("abstained").get<uint64_t>();
    m.output_sha256 = get("output_sha256").get<std::string>();
    m.job = get("job");
    if (m.shards == 0 || m.shard >= m.shards) {
      return Error(fmt::format("{}: shard {} of {} is not a valid shard", path, m.shard, m.shards), ErrorKind::invalid_input);
    }
    return m;
  } catch (const std::exception& e) {
    return Error(fmt::format("{}: field \"{}\": {}", path, field, e.what()), ErrorKind::invalid_input);
  }
}

}  // namespace sparq::runtime
