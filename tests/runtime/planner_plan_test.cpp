// The plan built from the fixture bench/eval and a workload: roofline scaling recomputed by
// hand from the catalog and hwinfo figures, sizing against ceil(peak / usable), measured
// overrides winning, and bad input reported as invalid input naming file and field (the CLI's
// exit code 2 for it: tests/tools/plan_cli_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "planner_fixtures.h"
#include "runtime/plan/inputs.h"
#include "runtime/plan/plan.h"

namespace sparq::runtime::planner {
namespace {

struct Loaded {
  BenchReport bench;
  Catalog catalog;
  Workload workload;
};

Loaded load(const std::string& workload_json) {
  std::string dir = sparq::test::temp_dir("planner_plan");
  Result<BenchReport> b = load_bench(kFixtures + "bench.json");
  Result<Workload> w = load_workload(write(dir, "w.json", workload_json));
  EXPECT_TRUE(b.ok() && w.ok());
  return {*b, shipped_catalog(), *w};
}

TEST(PlannerPlan, CpuScalesTheMatmulShareByInt8PeakAndTheRestByCores) {
  Loaded l = load(R"({"documents_per_day": 100000, "hours_per_day": 10, "peak_to_average": 2, "redundancy": 1})");
  nlohmann::json bench = nlohmann::json::parse(std::ifstream(kFixtures + "bench.json"));
  double measured_gops = bench["hwinfo"]["measured"]["int8_gops"]["all_threads"];
  Result<Plan> plan = make_plan(l.bench, std::nullopt, l.workload, l.catalog, {});
  ASSERT_TRUE(plan.ok()) << plan.error().message();
  const Device* xeon = nullptr;
  for (const Device& d : l.catalog.devices)
    if (d.name == "xeon-32c-server") xeon = &d;
  ASSERT_NE(xeon, nullptr);
  const Option& o = find(*plan, "xeon-32c-server");
  EXPECT_FALSE(o.throughput_measured);
  const double share = l.catalog.cpu.matmul_share_read;
  const double cores = xeon->cores / bench["hwinfo"]["cpu"]["cores"].get<double>();
  const double bandwidth = xeon->bandwidth_gbs * l.catalog.cpu.bandwidth / bench["hwinfo"]["measured"]["bandwidth_gbs"]["all_threads"].get<double>();
  const double speedup = 1 / (share / (xeon->int8_tops * 1000 / measured_gops) + (1 - share) / std::min(cores, bandwidth));
  EXPECT_NEAR(o.tokens_per_s, 9120.0 * speedup, 1e-6 * o.tokens_per_s);
  // Not the int8 peak ratio alone (issue 22: a 32-core Xeon came out at 81x a 2-thread machine).
  EXPECT_LT(o.tokens_per_s, 9120.0 * xeon->int8_tops * 1000 / measured_gops);
  // Demand: 100000 x 380 tokens in 10 h -> 1055.6 tokens/s average, x2 at peak.
  EXPECT_NEAR(plan->demand.peak_tokens_per_s, 2 * 100000.0 * 380 / 36000, 1e-9);
  const Option& me = find(*plan, kThisMachine);
  EXPECT_TRUE(me.throughput_measured);
  EXPECT_EQ(me.units_for_peak, static_cast<int>(std::ceil(2 * 100000.0 * 380 / 36000 / (9120 * 0.7))));
  EXPECT_EQ(me.units, me.units_for_peak + 1);
  // Monthly on-prem cost of the Xeon option: units x (5000/36 + 500/12 + 350 W x 300 h x 0.15 x 1.3).
  double unit_month = 5000.0 / 36 + 500.0 / 12 + 0.350 * 300 * 0.15 * 1.3;
  EXPECT_NEAR(o.usd_per_month, o.units * unit_month, 1e-6);
  EXPECT_NEAR(o.usd_per_million_requests, o.usd_per_month / 3e6 * 1e6, 1e-9);
}

TEST(PlannerPlan, GpuEstimateIsARooflineOfTheMatmulWorkAtTheLargestBatchAndMeasurementsWin) {
  Loaded l = load(R"({"documents_per_day": 1000})");
  Result<Plan> estimated = make_plan(l.bench, std::nullopt, l.workload, l.catalog, {});
  ASSERT_TRUE(estimated.ok());
  nlohmann::json bench = read_json(kFixtures + "bench.json");
  const double matmul = bench["model"]["matmul_parameters"], dense = bench["model"]["matmul_dense_bytes"],
               layers = bench["model"]["layers"], activations = bench["activation_bytes"].get<double>() / 8,
               weights = std::max(bench["model"]["bytes"].get<double>(), dense);
  const Device& gpu = device(l.catalog, "rtx-4090");
  const Efficiency& eff = l.catalog.gpu;
  // The largest batch of 380-token documents whose weights and activations fit 65 % of it.
  int batch = eff.max_batch;
  while (batch > 1 && (weights + batch * activations) * 1.2 > 0.65 * gpu.memory_bytes) --batch;
  auto pass = [&](double matmul_parameters, int b) {
    return std::max(2 * matmul_parameters * b * 380 / (gpu.int8_tops * 1e12 * eff.compute),
                    dense / (gpu.bandwidth_gbs * 1e9 * eff.bandwidth)) +
           eff.per_layer_ms / 1e3 * layers;
  };
  const Option& g = find(*estimated, "rtx-4090");
  EXPECT_EQ(g.phases[0].batch, batch);
  EXPECT_NEAR(g.tokens_per_s, batch * 380 / pass(matmul, batch), 1e-6 * g.tokens_per_s);
  // Its p95 is that pass, spread as the bench's p95 over its p50.
  const double spread = bench["latency_ms"]["p95"].get<double>() / bench["latency_ms"]["p50"].get<double>();
  EXPECT_NEAR(g.phases[0].p95_ms, pass(matmul, batch) * 1e3 * spread, 1e-9);
  // GPUs differ as their peaks do (issue 22: all within 1.3x while their int8 TOPS differ 15x).
  EXPECT_GT(find(*estimated, "h100").tokens_per_s / find(*estimated, "rtx-4060ti-16g").tokens_per_s, 5);
  // A 20 ms objective holds the batch to what one pass does in it.
  Loaded fast = load(R"({"documents_per_day": 1000, "latency_slo_p95_ms": 20})");
  Result<Plan> slo = make_plan(fast.bench, std::nullopt, fast.workload, fast.catalog, {});
  ASSERT_TRUE(slo.ok());
  const PhaseEstimate& held = find(*slo, "rtx-4090").phases[0];
  EXPECT_LE(held.p95_ms, 20);
  EXPECT_GT(pass(matmul, held.batch + 1) * 1e3 * spread, 20);
  EXPECT_EQ(held.batch_limit, "p95 objective");
  auto m = parse_measurement("rtx-4090:tokens_per_s=5000,p95_ms=40");
  ASSERT_TRUE(m.ok());
  Result<Plan> measured = make_plan(l.bench, std::nullopt, l.workload, l.catalog, {*m});
  ASSERT_TRUE(measured.ok());
  const Option& o = find(*measured, "rtx-4090");
  EXPECT_TRUE(o.throughput_measured);
  EXPECT_DOUBLE_EQ(o.tokens_per_s, 5000);
  EXPECT_EQ(o.phases.at(0).p95_ms, 40);
  // A bench report from that device carries all three figures.
  const std::string bench_file = std::string(SPARQ_SOURCE_DIR) + "/tests/runtime/fixtures/planner/bench.json";
  auto from_bench = parse_measurement("rtx-4090:bench=" + bench_file);
  ASSERT_TRUE(from_bench.ok()) << from_bench.error().message();
  const MeasuredPhase& encode = from_bench->second.phases.at(Stage::read);
  EXPECT_EQ(encode.tokens_per_s, l.bench.phases.at(0).tokens_per_s);
  EXPECT_EQ(encode.p95_ms, l.bench.phases.at(0).p95_ms);
  EXPECT_FALSE(parse_measurement("rtx-4090:bench=/nonexistent.json").ok());
  EXPECT_FALSE(parse_measurement("rtx-4090:speed=3").ok());
  EXPECT_FALSE(parse_measurement("rtx-4090:tokens_per_s=-3").ok());
  Measurement some;
  some.phases[Stage::read].tokens_per_s = 1;
  EXPECT_FALSE(make_plan(l.bench, std::nullopt, l.workload, l.catalog, {{"no-such-gpu", some}}).ok());
}

TEST(PlannerPlan, LatencyObjectiveAndMemoryRuleMakeOptionsInfeasible) {
  // 300 ms p95 objective: the measured 364.9 ms misses it; faster estimated devices meet it.
  Loaded l = load(R"({"documents_per_day": 1000, "latency_slo_p95_ms": 300})");
  Result<Plan> plan = make_plan(l.bench, std::nullopt, l.workload, l.catalog, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(find(*plan, kThisMachine).latency_ok);
  EXPECT_FALSE(plan->verdict.cheapest.empty());
  EXPECT_NE(plan->verdict.cheapest, kThisMachine);
  // Headroom 0.000001 of device memory: nothing fits, so nothing is feasible.
  Loaded tight = load(R"({"documents_per_day": 1000, "costs": {"memory_headroom": 0.000001}})");
  Result<Plan> none = make_plan(tight.bench, std::nullopt, tight.workload, tight.catalog, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->verdict.cheapest.empty());
  EXPECT_FALSE(none->verdict.cpu_only_ok);
}

TEST(PlannerPlan, BadInputNamesFileAndFieldAsInvalidInput) {
  std::string dir = sparq::test::temp_dir("planner_bad_input");
  std::string bench = kFixtures + "bench.json";
  std::string good = write(dir, "good.json", R"({"documents_per_day": 1000})");
  struct Case { std::string file, text, expect; };
  const Case cases[] = {
      {"neg.json", R"({"documents_per_day": -5})", "documents_per_day: must be between 0 and 1e+12"},
      // Once negative units and costs, and "1 unit at $0.00".
      {"spares.json", R"({"documents_per_day": 5, "redundancy": 1e18})", "redundancy: must be between 0 and 1000"},
      {"flood.json", R"({"documents_per_day": 1e300})", "documents_per_day: must be between"},
      {"half.json", R"({"documents_per_day": 5, "redundancy": 0.5})", "redundancy: must be a whole number"},
      // Once silently ignored.
      {"typo.json", R"({"documnets_per_day": 5, "documents_per_day": 5})",
       "documnets_per_day: unknown key (did you mean documents_per_day?)"},
      {"typo_costs.json", R"({"documents_per_day": 5, "costs": {"pue": 1.2, "electricty_usd_per_kwh": 0.2}})",
       "costs.electricty_usd_per_kwh: unknown key (did you mean electricity_usd_per_kwh?)"},
      {"twice.json", R"({"documents_per_day": 5, "documents_per_day": 50})", "listed twice"},
      {"peak.json", R"({"documents_per_day": 5, "peak_to_average": 0.5})", "peak_to_average: must be >= 1"},
      {"pue.json", R"({"documents_per_day": 5, "costs": {"pue": "high"}})", "costs.pue: must be a number"},
      {"none.json", R"({"hours_per_day": 8})", "documents_per_day: missing"},
      {"broken.json", R"({"documents_per_day": )", "not valid JSON"},
  };
  for (const Case& c : cases) {
    std::string path = write(dir, c.file, c.text);
    Result<Workload> w = load_workload(path);
    ASSERT_FALSE(w.ok()) << c.file;
    EXPECT_EQ(w.error().kind(), ErrorKind::invalid_input) << c.file;
    EXPECT_NE(w.error().message().find(path), std::string::npos) << w.error().message();
    EXPECT_NE(w.error().message().find(c.expect), std::string::npos) << w.error().message();
  }
  ASSERT_TRUE(load_workload(good).ok());
  nlohmann::json b = nlohmann::json::parse(std::ifstream(bench));
  b["model"].erase("parameters");
  std::string no_params = write(dir, "bench_no_params.json", b.dump());
  Result<BenchReport> r = load_bench(no_params);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::invalid_input);
  EXPECT_NE(r.error().message().find(no_params), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("model.parameters: missing"), std::string::npos) << r.error().message();
}

TEST(PlannerPlan, ExampleWorkloadYaml) {
  Result<Workload> w = load_workload(std::string(SPARQ_SOURCE_DIR) + "/models/example-workload.yaml");
#ifdef SPARQ_HAVE_YAML_CPP
  ASSERT_TRUE(w.ok()) << w.error().message();
  EXPECT_EQ(w->kind, ModelKind::encoder);
  EXPECT_EQ(w->requests_per_day, 12000);
  EXPECT_EQ(w->redundancy, 1);
  EXPECT_DOUBLE_EQ(w->costs.energy.pue, 1.3);
  EXPECT_DOUBLE_EQ(w->this_machine.power_w, 60);
  EXPECT_FALSE(w->this_machine.power_estimated);
#else
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message().find("without YAML support"), std::string::npos);
#endif
}

}  // namespace
}  // namespace sparq::runtime::planner
