// A checkpoint is read back only when it is what a job writes; anything else is an "invalid
// checkpoint" error naming the file, never an exception.
#include <gtest/gtest.h>

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
