#include "runtime/jobs/job_checkpoint.h"

#include <fmt/core.h>

#include <fstream>
#include <set>
#include <sstream>

#include "runtime/jobs/output_file.h"

namespace sparq::runtime {

uint64_t JobCheckpoint::errors() const {
  uint64_t n = 0;
  for (const auto& [code, count] : errors_by_code) n += count;
  return n;
}

std::string checkpoint_path(const std::string& output_path) { return output_path + ".partial.checkpoint"; }

Result<std::optional<JobCheckpoint>> load_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::optional<JobCheckpoint>();
  std::stringstream text;
  text << in.rdbuf();
  auto invalid = [&](const std::string& why) {
    return Error(fmt::format("{}: invalid checkpoint ({}); restart the job to start over", path, why),
                 ErrorKind::invalid_input)
        .about("restart");
  };
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (!j.is_object()) return invalid("not a JSON object");
  if (j.value("version", 0) != JobCheckpoint::kFormatVersion) {
    return invalid(fmt::format("format version {}, this sparq writes {}", j.value("version", 0),
                               JobCheckpoint::kFormatVersion));
  }
  try {
    JobCheckpoint c;
    c.fingerprint = j.at("job");
    c.records_consumed = j.at("records_consumed").get<uint64_t>();
    c.records_written = j.at("records_written").get<uint64_t>();
    c.output_bytes = j.at("output_bytes").get<uint64_t>();
    c.input_hash = std::stoull(j.at("input_xxh3").get<std::string>(), nullptr, 16);
    c.errors_by_code = j.at("errors_by_code").get<std::map<std::string, uint64_t>>();
    c.truncated_documents = j.at("truncated_documents").get<uint64_t>();
    c.truncated_tokens = j.at("truncated_tokens").get<uint64_t>();
    c.isa = j.value("isa", "");
    return std::optional<JobCheckpoint>(std::move(c));
  } catch (const std::exception& e) {
    return invalid(e.what());
  }
}

Status save_checkpoint(const std::string& path, const JobCheckpoint& c) {
  nlohmann::ordered_json j = {{"version", JobCheckpoint::kFormatVersion},
                              {"job", c.fingerprint},
                              {"records_consumed", c.records_consumed},
                              {"records_written", c.records_written},
                              {"output_bytes", c.output_bytes},
                              {"input_xxh3", fmt::format("{:016x}", c.input_hash)},
                              {"errors_by_code", c.errors_by_code},
                              {"truncated_documents", c.truncated_documents},
                              {"truncated_tokens", c.truncated_tokens},
                              {"isa", c.isa}};
  return write_file_durably(path, j.dump(2) + "\n");
}

std::string fingerprint_differences(const nlohmann::json& a, const nlohmann::json& b) {
  std::set<std::string> keys;
  for (const auto& [k, v] : a.items()) keys.insert(k);
  for (const auto& [k, v] : b.items()) keys.insert(k);
  std::string out;
  for (const std::string& k : keys) {
    nlohmann::json x = a.value(k, nlohmann::json()), y = b.value(k, nlohmann::json());
    if (x != y) out += fmt::format("{}{} ({} then, {} now)", out.empty() ? "" : "; ", k, x.dump(), y.dump());
  }
  return out;
}

}  // namespace sparq::runtime
