// Fuzzes the checkpoint a resumable job reads back (OUT.partial.checkpoint): load_checkpoint
// and the comparison of its fingerprint with the job's. The checkpoint carries an XXH3
// checksum of its own contents, which random mutations never keep right, so the first
// input byte picks the mode:
//   even: the rest is the checkpoint file as it is;
//   odd:  the rest is parsed as JSON and, when it is an object, its "checksum" is
//         recomputed the way the job writes it, so mutations reach the field checks.
#include <fmt/core.h>
#include <xxhash.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "formats/input_file.h"
#include "fuzz_scratch.h"
#include "runtime/jobs/job_checkpoint.h"

namespace {

// As job_checkpoint.cpp: XXH3-64 of the object without "checksum", keys sorted (dump()).
std::string with_checksum(nlohmann::json j) {
  j.erase("checksum");
  const std::string text = j.dump();
  j["checksum"] = fmt::format("{:016x}", XXH3_64bits(text.data(), text.size()));
  return j.dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const sparq::fuzz::Scratch& s = sparq::fuzz::Scratch::get();
  std::string path;
  if (data[0] & 1) {
    auto json = sparq::formats::parse_json(rest, "checkpoint");
    if (!json || !json->is_object()) return 0;
    path = s.write("out.jsonl.partial.checkpoint", with_checksum(std::move(*json)));
  } else {
    path = s.write("out.jsonl.partial.checkpoint", rest);
  }
  auto loaded = sparq::runtime::load_checkpoint(path);
  if (!loaded || !*loaded) return 0;
  const sparq::runtime::JobCheckpoint& c = **loaded;
  (void)c.errors();
  static const nlohmann::json job = {{"command", "classify"}, {"model", "model.sparq"}, {"input", "docs.jsonl"},
                                     {"max_length", 128}, {"batch_size", 32}, {"shard", nullptr}};
  (void)sparq::runtime::fingerprint_differences(c.fingerprint, job);
  (void)sparq::runtime::fingerprint_differences(job, c.fingerprint);
  return 0;
}
