// What the planner says about its inputs (issue 22, "Strict, helpful inputs"): the keys users
// wrote that once were silently ignored are errors naming the closest key; the workload's
// document length against the bench's is warned about and capped where the model cuts it;
// a latency objective checked against a batch's latency says to re-bench at batch 1; no
// quality floor is no verdict on quality; `sparq bench --repeat` ranges reach the plan; and a
// bench without the matmul count says what it over-counts.
#include <gtest/gtest.h>

#include <algorithm>

#include "planner_fixtures.h"
#include "runtime/plan/inputs.h"
#include "runtime/plan/plan.h"

namespace sparq::runtime::planner {
namespace {

using nlohmann::json;

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

Result<Plan> plan_of(const std::string& bench_file, const json& workload, const std::optional<EvalReport>& eval = {}) {
  Result<BenchReport> b = load_bench(bench_file);
  EXPECT_TRUE(b.ok()) << b.error().message();
  Result<Workload> w = load_workload(write(sparq::test::temp_dir("planner_strict"), "w.json", workload.dump()));
  EXPECT_TRUE(w.ok()) << w.error().message();
  return make_plan(*b, eval, *w, shipped_catalog(), {});
}

TEST(PlannerStrictInputs, KeysOnceIgnoredAreErrorsNamingTheClosestKey) {
  const std::string dir = sparq::test::temp_dir("planner_strict_keys");
  struct Case { std::string text, expect; };
  const Case cases[] = {
      {R"({"documents_per_day": 5, "latency_slo_ms": 100})", "latency_slo_ms: unknown key (did you mean latency_slo_p95_ms?)"},
      {R"({"documents_per_day": 5, "peak_to_avg": 3})", "peak_to_avg: unknown key (did you mean peak_to_average?)"},
      {R"({"documents_per_day": 5, "costs": {"electricty_usd_per_kwh": 0.2}})",
       "costs.electricty_usd_per_kwh: unknown key (did you mean electricity_usd_per_kwh?)"},
      {R"({"requests_per_day": 5, "concurrent_users": 40})",
       "concurrent_users: unknown key (did you mean peak_concurrent_users?)"},
      {R"({"requests_per_day": 5, "decode_tokens_per_s_per_user": 10})",
       "decode_tokens_per_s_per_user: unknown key (did you mean tokens_per_s_per_user?)"},
      {R"({"documents_per_day": 5, "this_machine": {"owned_unit": 2}})",
       "this_machine.owned_unit: unknown key (did you mean owned_units?)"},
      {R"({"documents_per_day": 5, "exclude": "h100"})", "exclude: must be a list of catalog device names"},
  };
  int i = 0;
  for (const Case& c : cases) {
    const std::string path = write(dir, "w" + std::to_string(i++) + ".json", c.text);
    Result<Workload> w = load_workload(path);
    ASSERT_FALSE(w.ok()) << c.text;
    EXPECT_NE(w.error().message().find(path + ": " + c.expect), std::string::npos) << w.error().message();
  }
}

// Issue 22: 380 tokens per document in the workload, 84 measured, beyond the model's 256.
TEST(PlannerStrictInputs, DocumentLengthsUnlikeTheBenchsAreWarnedAboutAndCutWhereTheModelCutsThem) {
  json bench = read_json(kFixtures + "bench.json");
  const double seq_len = bench["seq_len"], measured = bench["avg_tokens_per_document"];
  Result<Plan> longer = plan_of(kFixtures + "bench.json", {{"documents_per_day", 1000},
                                                           {"avg_tokens_per_document", seq_len * 2}});
  ASSERT_TRUE(longer.ok()) << longer.error().message();
  EXPECT_EQ(longer->demand.input_tokens, seq_len);  // the rest of each document is cut
  EXPECT_EQ(longer->demand.tokens_per_request, seq_len);
  EXPECT_TRUE(mentions(longer->verdict.warnings, "beyond the bench's sequence length")) << longer->verdict.warnings[0];
  Result<Plan> shorter = plan_of(kFixtures + "bench.json", {{"documents_per_day", 1000},
                                                            {"avg_tokens_per_document", measured / 4}});
  ASSERT_TRUE(shorter.ok());
  EXPECT_TRUE(mentions(shorter->verdict.warnings, "the bench measured 380 tokens per document and the workload has 95"));
  Result<Plan> alike = plan_of(kFixtures + "bench.json", {{"documents_per_day", 1000},
                                                          {"avg_tokens_per_document", measured * 1.2}});
  ASSERT_TRUE(alike.ok());
  EXPECT_FALSE(mentions(alike->verdict.warnings, "tokens per document"));
}

// Issue 22: `--batch-size 1` measured p95 1.9 ms against 30 ms at batch 16.
TEST(PlannerStrictInputs, ALatencyObjectiveAgainstABatchedBenchAsksForABatchOfOne) {
  Result<Plan> slo = plan_of(kFixtures + "bench.json", {{"documents_per_day", 1000}, {"latency_slo_p95_ms", 500}});
  ASSERT_TRUE(slo.ok());
  EXPECT_TRUE(mentions(slo->verdict.warnings, "re-bench with --batch-size 1"));
  Result<Plan> none = plan_of(kFixtures + "bench.json", {{"documents_per_day", 1000}});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(mentions(none->verdict.warnings, "--batch-size 1"));
  json single = read_json(kFixtures + "bench.json");
  single["batch"] = 1;
  const std::string one = write(sparq::test::temp_dir("planner_strict_b1"), "bench.json", single.dump());
  Result<Plan> batch_one = plan_of(one, {{"documents_per_day", 1000}, {"latency_slo_p95_ms", 500}});
  ASSERT_TRUE(batch_one.ok());
  EXPECT_FALSE(mentions(batch_one->verdict.warnings, "--batch-size 1"));
}

TEST(PlannerStrictInputs, NoFloorIsNoQualityVerdict) {
  EvalReport no_floor;
  no_floor.accuracy = 0.9, no_floor.macro_f1 = 0.88;
  Result<Plan> plan = plan_of(kFixtures + "bench.json", {{"documents_per_day", 1000}}, no_floor);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->verdict.quality_ok.has_value());
  Result<BenchReport> b = load_bench(kFixtures + "bench.json");
  Result<Workload> w = load_workload(write(sparq::test::temp_dir("planner_strict_q"), "w.json", R"({"documents_per_day": 1000})"));
  ASSERT_TRUE(b.ok() && w.ok());
  EXPECT_TRUE(to_json(*plan, *b, *w)["verdict"]["quality_ok"].is_null());
  EXPECT_FALSE(plan_misses_floors(*plan));
  EvalReport missed = no_floor;
  missed.floor_metric = "accuracy", missed.floor_value = 0.95, missed.floor_passed = false;
  Result<Plan> below = plan_of(kFixtures + "bench.json", {{"documents_per_day", 1000}}, missed);
  ASSERT_TRUE(below.ok());
  EXPECT_EQ(below->verdict.quality_ok, false);
  EXPECT_TRUE(plan_misses_floors(*below));
}

// Issue 22: three quick benches gave 50k-149k tokens/s.
TEST(PlannerStrictInputs, TheBenchsRangeOverRepeatsReachesThePlan) {
  json bench = read_json(kFixtures + "bench.json");
  const double median = bench["tokens_per_s"];
  bench["repeat"] = {{"count", 5}, {"tokens_per_s", {{"median", median}, {"min", median * 0.6}, {"max", median * 1.3}}}};
  const std::string file = write(sparq::test::temp_dir("planner_strict_repeat"), "bench.json", bench.dump());
  Result<Plan> plan = plan_of(file, {{"documents_per_day", 1000}});
  ASSERT_TRUE(plan.ok());
  const PhaseEstimate& me = find(*plan, kThisMachine).phases[0];
  EXPECT_EQ(me.tokens_per_s, median);  // the median is planned with
  EXPECT_EQ(me.tokens_per_s_min, median * 0.6);
  EXPECT_EQ(me.tokens_per_s_max, median * 1.3);
  EXPECT_NE(me.basis.find("median of 5 runs"), std::string::npos) << me.basis;
}

// Issue 22: 4.05 M "parameters" counted as multiply work against ~0.9 M in the matmuls.
TEST(PlannerStrictInputs, ABenchWithoutTheMatmulCountSaysWhatItOverCounts) {
  json bench = read_json(kFixtures + "bench.json");
  const double matmul = bench["model"]["matmul_parameters"];
  bench["model"].erase("matmul_parameters");
  bench["model"].erase("layers");
  const std::string file = write(sparq::test::temp_dir("planner_strict_old"), "bench.json", bench.dump());
  Result<BenchReport> old = load_bench(file);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->matmul_parameters, bench["model"]["parameters"].get<double>());
  EXPECT_EQ(old->layers, kLayersAssumed);
  EXPECT_TRUE(mentions(old->warnings, "embedding tables included"));
  EXPECT_TRUE(mentions(old->warnings, "model.layers"));
  // The measured machine's share of its int8 peak counts the matmuls only.
  Result<Plan> plan = plan_of(kFixtures + "bench.json", {{"documents_per_day", 1000}});
  ASSERT_TRUE(plan.ok());
  const double share = 9120 * 2 * matmul /
                       (bench["hwinfo"]["measured"]["int8_gops"]["all_threads"].get<double>() * 1e9);
  EXPECT_NEAR(plan->efficiency[0].roofline_share, share, 1e-12);
}

}  // namespace
}  // namespace sparq::runtime::planner
