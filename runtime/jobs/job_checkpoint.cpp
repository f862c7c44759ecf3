#include "runtime/jobs/job_checkpoint.h"

#include <unistd.h>
#include <xxhash.h>

#include "formats/input_file.h"

#include <fmt/core.h>

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "runtime/jobs/output_file.h"

namespace sparq::runtime {

uint64_t JobCheckpoint::errors() const {
  uint64_t n = 0;
  for (const auto& [code, count] : errors_by_code) n += count;
  return n;
}

std::string checkpoint_path(const std::string& output_path) { return output_path + ".partial.checkpoint"; }

namespace {

// XXH3-64 of the checkpoint without its "checksum" field, keys sorted: a flipped byte or an
// edited count is caught before the job trusts it.
std::string checksum_of(const nlohmann::json& checkpoint) {
  nlohmann::json rest = checkpoint;
  rest.erase("checksum");
  const std::string text = rest.dump();
  return fmt::format("{:016x}", XXH3_64bits(text.data(), text.size()));
}

}  // namespace

Result<std::optional<JobCheckpoint>> load_checkpoint(const std::string& path) {
  if (access(path.c_str(), F_OK) != 0) return std::optional<JobCheckpoint>();
  auto invalid = [&](const std::string& why) {
    return Error(fmt::format("{}: invalid checkpoint ({}); restart the job to start over", path, why),
                 ErrorKind::invalid_input)
        .about("restart");
  };
  Result<nlohmann::json> parsed = formats::load_json_file(path, {.max_depth = 64, .max_bytes = size_t{1} << 20});
  if (!parsed) return invalid(parsed.error().message());
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) return invalid("not a JSON object");
  // Any JSON value may stand where the version should be: compared as a value, since
  // json::value("version", 0) threw on a string (found by fuzz_job_checkpoint).
  const nlohmann::json version = j.contains("version") ? j.at("version") : nlohmann::json();
  if (!version.is_number_integer() || version.get<int64_t>() != JobCheckpoint::kFormatVersion) {
    return invalid(fmt::format("format version {}, this sparq writes {}", version.is_null() ? "missing" : version.dump(),
                               JobCheckpoint::kFormatVersion));
  }
  if (!j.contains("checksum") || !j.at("checksum").is_string() ||
      j.at("checksum").get<std::string>() != checksum_of(j)) {
    return invalid("its checksum does not match its contents");
  }
  // The fingerprint is compared key by key with the job's (fingerprint_differences).
  if (!j.contains("job") || !j.at("job").is_object()) return invalid("job: expected an object");
  // Counts must be integers: get<uint64_t>() casts a float (2e34) out of range, which is
  // undefined (found by fuzz_job_checkpoint).
  auto count = [](const nlohmann::json& v, const std::string& field) {
    if (!v.is_number_unsigned()) throw std::invalid_argument(field + ": expected a non-negative integer");
    return v.get<uint64_t>();
  };
  try {
    JobCheckpoint c;
    c.fingerprint = j.at("job");
    c.records_consumed = count(j.at("records_consumed"), "records_consumed");
    c.records_written = count(j.at("records_written"), "records_written");
    c.output_bytes = count(j.at("output_bytes"), "output_bytes");
    c.input_hash = std::stoull(j.at("input_xxh3").get<std::string>(), nullptr, 16);
    c.output_hash = std::stoull(j.at("output_xxh3").get<std::string>(), nullptr, 16);
    const nlohmann::json& errors = j.at("errors_by_code");
    if (!errors.is_object()) throw std::invalid_argument("errors_by_code: expected an object");
    for (const auto& [code, n] : errors.items()) c.errors_by_code[code] = count(n, "errors_by_code." + code);
    c.truncated_documents = count(j.at("truncated_documents"), "truncated_documents");
    c.truncated_tokens = count(j.at("truncated_tokens"), "truncated_tokens");
    c.abstained = j.contains("abstained") ? count(j.at("abstained"), "abstained") : 0;
    c.isa = j.value("isa", "");
    return std::optional<JobCheckpoint>(std::move(c));
  } catch (const std::exception& e) {
    return invalid(e.what());
  }
}

Status save_checkpoint(const std::string& path, const JobCheckpoint& c) {
  nlohmann::json j = {{"version", JobCheckpoint::kFormatVersion},
                              {"job", c.fingerprint},
                              {"records_consumed", c.records_consumed},
                              {"records_written", c.records_written},
                              {"output_bytes", c.output_bytes},
                              {"input_xxh3", fmt::format("{:016x}", c.input_hash)},
                              {"output_xxh3", fmt::format("{:016x}", c.output_hash)},
                              {"errors_by_code", c.errors_by_code},
                              {"truncated_documents", c.truncated_documents},
                              {"truncated_tokens", c.truncated_tokens},
                              {"abstained", c.abstained},
                              {"isa", c.isa}};
  j["checksum"] = checksum_of(j);
  return write_file_durably(path, j.dump(2) + "\n");
}

std::string fingerprint_differences(const nlohmann::json& a, const nlohmann::json& b) {
  // Objects are compared key by key; anything else (which no job writes) as a whole, rather
  // than throwing from json::value() on an array (found by fuzz_job_checkpoint).
  if (!a.is_object() || !b.is_object()) {
    if (a == b) return "";
    return fmt::format("job ({} then, {} now)", a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                       b.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
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
