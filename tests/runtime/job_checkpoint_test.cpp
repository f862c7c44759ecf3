// A checkpoint is read back only when it is what a job writes; anything else is an "invalid
// checkpoint" error naming the file, never an exception.
#include <fmt/core.h>
#include <gtest/gtest.h>
#include <xxhash.h>

#include <fstream>
#include <utility>
#include <vector>

#include "cli_runner.h"
#include "runtime/jobs/job_checkpoint.h"

namespace {

using namespace sparq::runtime;

// Found by tests/fuzz/job_checkpoint_fuzz.cpp: a checkpoint whose "job" was an array (with
// its checksum right) loaded, and comparing it with the job threw json::type_error.
TEST(JobCheckpoint, AFingerprintThatIsNotAnObjectIsRefused) {
  const std::string path = sparq::test::temp_dir("job_checkpoint") + "/out.jsonl.partial.checkpoint";
  JobCheckpoint c;
  c.fingerprint = nlohmann::json::array({1, 2});
  ASSERT_TRUE(save_checkpoint(path, c).ok());
  auto loaded = load_checkpoint(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().message(),
            path + ": invalid checkpoint (job: expected an object); restart the job to start over");

  const nlohmann::json job = {{"command", "classify"}, {"max_length", 128}};
  EXPECT_EQ(fingerprint_differences(nlohmann::json::array({1, 2}), job),
            R"(job ([1,2] then, {"command":"classify","max_length":128} now))");
  EXPECT_EQ(fingerprint_differences(job, job), "");
  EXPECT_EQ(fingerprint_differences(job, {{"command", "embed"}, {"max_length", 128}}),
            R"(command ("classify" then, "embed" now))");
}

// Found by fuzz_job_checkpoint: a version that was not a number threw json::type_error.
TEST(JobCheckpoint, AVersionThatIsNotANumberIsRefused) {
  const std::string path = sparq::test::temp_dir("job_checkpoint_version") + "/out.jsonl.partial.checkpoint";
  for (const auto& [text, shown] : std::vector<std::pair<std::string, std::string>>{
           {R"({"version": "2"})", R"("2")"}, {R"({"version": [2]})", "[2]"}, {R"({"version": 1})", "1"}, {"{}", "missing"}}) {
    std::ofstream(path) << text;
    auto loaded = load_checkpoint(path);
    ASSERT_FALSE(loaded.ok()) << text;
    EXPECT_EQ(loaded.error().message(), path + ": invalid checkpoint (format version " + shown +
                                            ", this sparq writes 2); restart the job to start over");
  }
}

// The checkpoint as a job writes it, with one field replaced and the checksum made right
// again (XXH3-64 of the object without "checksum", as job_checkpoint.cpp computes it).
void write_with_field(const std::string& path, const std::string& field, const nlohmann::json& value) {
  JobCheckpoint c;
  c.fingerprint = {{"command", "classify"}};
  c.errors_by_code["malformed_json"] = 1;
  ASSERT_TRUE(save_checkpoint(path, c).ok());
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in);
  in.close();
  if (field.rfind("errors_by_code.", 0) == 0) {
    j["errors_by_code"][field.substr(15)] = value;
  } else {
    j[field] = value;
  }
  j.erase("checksum");
  const std::string text = j.dump();
  j["checksum"] = fmt::format("{:016x}", XXH3_64bits(text.data(), text.size()));
  std::ofstream(path) << j.dump();
}

// Found by fuzz_job_checkpoint (UBSan): a count given as a float (2e34) was cast to uint64.
TEST(JobCheckpoint, CountsMustBeNonNegativeIntegers) {
  const std::string path = sparq::test::temp_dir("job_checkpoint_counts") + "/out.jsonl.partial.checkpoint";
  for (const auto& [field, bad] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"records_consumed", 2e34}, {"output_bytes", -1}, {"truncated_tokens", "7"},
           {"errors_by_code.malformed_json", 1.5}}) {
    write_with_field(path, field, bad);
    auto loaded = load_checkpoint(path);
    ASSERT_FALSE(loaded.ok()) << field;
    EXPECT_EQ(loaded.error().message(), path + ": invalid checkpoint (" + field +
                                            ": expected a non-negative integer); restart the job to start over");
  }
  write_with_field(path, "records_consumed", 12);
  auto loaded = load_checkpoint(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  EXPECT_EQ((*loaded)->records_consumed, 12u);
}

TEST(JobCheckpoint, RoundTripsWhatItSaves) {
  const std::string path = sparq::test::temp_dir("job_checkpoint_roundtrip") + "/out.jsonl.partial.checkpoint";
  JobCheckpoint c;
  c.fingerprint = {{"command", "classify"}};
  c.records_consumed = 7;
  c.output_bytes = 123;
  c.errors_by_code["malformed_json"] = 2;
  ASSERT_TRUE(save_checkpoint(path, c).ok());
  auto loaded = load_checkpoint(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->fingerprint, c.fingerprint);
  EXPECT_EQ((*loaded)->records_consumed, 7u);
  EXPECT_EQ((*loaded)->output_bytes, 123u);
  EXPECT_EQ((*loaded)->errors(), 2u);
}

}  // namespace
