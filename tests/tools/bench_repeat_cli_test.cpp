// `sparq bench --repeat N` (issue 22: three quick benches gave 50k-149k tokens/s): the rates
// are the median of N whole measurements with their min-max; and the model's matmul work
// (`sparq plan`'s roofline input) counted from the tensors as `sparq inspect` lists them.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "cli_runner.h"

namespace {

using nlohmann::json;
using sparq::test::CliResult;
using sparq::test::run_sparq;
using sparq::test::default_model_path;
using sparq::test::sample_docs_path;


TEST(CliBenchRepeat, RatesAreTheMedianOfTheRunsWithTheirRange) {
  CliResult r = run_sparq({"bench", default_model_path(), "-i", sample_docs_path(), "--batch-size", "4", "--max-length", "32", "--warmup", "0",
                           "--seconds", "0.05", "--min-iterations", "2", "--repeat", "3", "--no-measure", "--json",
                           "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json report = json::parse(r.out);
  ASSERT_TRUE(report.contains("repeat")) << r.out;
  EXPECT_EQ(report["repeat"]["count"], 3);
  for (const char* rate : {"tokens_per_s", "documents_per_s"}) {
    const json& range = report["repeat"][rate];
    EXPECT_DOUBLE_EQ(report[rate].get<double>(), range["median"].get<double>()) << rate;
    EXPECT_LE(range["min"].get<double>(), range["median"].get<double>()) << rate;
    EXPECT_LE(range["median"].get<double>(), range["max"].get<double>()) << rate;
  }
  EXPECT_GE(report["iterations"].get<int>(), 3 * 2);  // every run's batches pooled for the percentiles

  CliResult once = run_sparq({"bench", default_model_path(), "-i", sample_docs_path(), "--max-length", "32", "--warmup", "0", "--seconds",
                              "0.05", "--min-iterations", "2", "--no-measure", "--json", "-q"});
  ASSERT_EQ(once.exit_code, 0) << once.err;
  EXPECT_FALSE(json::parse(once.out).contains("repeat"));
  EXPECT_EQ(run_sparq({"bench", default_model_path(), "--repeat", "0", "--no-measure", "-q"}).exit_code, 1);
}

// Embedding tables are looked up, not multiplied: the matmul work is the layers' matrices and
// the classifier head, at the bytes their values take dense.
TEST(CliBenchRepeat, MatmulWorkCountsTheLayersAndTheHeadNotTheEmbeddings) {
  CliResult inspect = run_sparq({"inspect", default_model_path(), "--json"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  double parameters = 0, dense_bytes = 0, all = 0;
  const json tensors = json::parse(inspect.out)["tensors"];
  for (const json& t : tensors) {
    std::string name = t["name"], encoding = t["encoding"];
    all += t["elements"].get<double>();
    if (t["shape"].size() != 2 || !(name.starts_with("layers.") || name == "classifier.weight")) continue;
    double bits = encoding.find("f32") != std::string::npos   ? 32
                  : encoding.find("f16") != std::string::npos ? 16
                  : encoding.find("q4") != std::string::npos  ? 4
                                                              : 8;
    parameters += t["elements"].get<double>();
    dense_bytes += t["elements"].get<double>() * bits / 8;
  }
  CliResult r = run_sparq({"bench", default_model_path(), "--max-length", "16", "--batch-size", "2", "--warmup", "0", "--seconds",
                           "0.01", "--min-iterations", "1", "--no-measure", "--json", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json model = json::parse(r.out)["model"];
  EXPECT_EQ(model["matmul_parameters"].get<double>(), parameters);
  EXPECT_EQ(model["matmul_dense_bytes"].get<double>(), dense_bytes);
  EXPECT_LT(parameters, all / 4);  // the shipped model is mostly its word-embedding table
  EXPECT_EQ(model["layers"], 2);
}

}  // namespace
