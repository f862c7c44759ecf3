// The plan of a decoder (tests/runtime/fixtures/planner/decoder-bench.json, the shape
// `sparq bench --json` writes for one) for an LLM workload: every figure recomputed here from
// the report's raw numbers, the workload and the catalog by the model the planner documents
// (runtime/plan/plan.h) - a request costs prompt / prefill rate + generated / decode rate
// seconds of a unit; on other CPUs the matmul share of prefill scales by int8 peak and of
// decode by memory bandwidth, the rest by cores; on accelerators a forward pass of the
// largest batch that fits is the slower of its matmul ops and its weight + KV-cache bytes
// at the catalog's efficiencies, + a fixed time per layer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "planner_fixtures.h"
#include "runtime/plan/inputs.h"
#include "runtime/plan/plan.h"

namespace sparq::runtime::planner {
namespace {

using nlohmann::json;

// The bench report's own numbers, read from the file, not through load_bench.
struct Raw {
  json j = read_json(kFixtures + "decoder-bench.json");
  double batch = j["batch"], prompt = j["prompt_tokens"], generated = j["generated_tokens"];
  double prefill = j["prefill_tokens_per_s"], decode = j["decode_tokens_per_s"];
  double step_bytes = j["decode_weight_bytes_per_step"];
  double kv_per_token = j["kv_cache_bytes"].get<double>() / (batch * (prompt + generated));
  double model_bytes = j["model"]["bytes"], parameters = j["model"]["parameters"];
  double matmul_parameters = j["model"]["matmul_parameters"], dense_bytes = j["model"]["matmul_dense_bytes"];
  double layers = j["model"]["layers"], cores = j["hwinfo"]["cpu"]["cores"];
  double bandwidth_gbs = j["hwinfo"]["measured"]["bandwidth_gbs"]["all_threads"];
  double int8_gops = j["hwinfo"]["measured"]["int8_gops"]["all_threads"];
  double ttft_p95 = j["time_to_first_token_percentiles_ms"]["p95"], token_p95 = j["token_latency_ms"]["p95"];

  // Bytes one generated token reads at a request of `p` prompt and `g` generated tokens.
  double bytes_per_token(double p, double g) const { return step_bytes / batch + kv_per_token * (p + g / 2); }

  // Seconds of one accelerator forward pass of `sequences`, each bringing `tokens` and
  // reading `kv_tokens` of KV cache.
  double pass_seconds(const Device& d, const Efficiency& e, double sequences, double tokens, double kv_tokens) const {
    double ops = 2 * matmul_parameters * sequences * tokens;
    double bytes = dense_bytes + sequences * kv_per_token * kv_tokens;
    return std::max(ops / (d.int8_tops * 1e12 * e.compute), bytes / (d.bandwidth_gbs * 1e9 * e.bandwidth)) +
           e.per_layer_ms / 1e3 * layers;
  }
  // The largest batch whose weights and KV cache at `context` fit `headroom` of the device.
  int batch_that_fits(const Device& d, const Efficiency& e, double context, double headroom) const {
    int b = e.max_batch;
    while (b > 1 && (std::max(model_bytes, dense_bytes) + b * kv_per_token * context) * 1.2 > d.memory_bytes * headroom)
      --b;
    return b;
  }
};

struct LlmPlanned {
  BenchReport bench;
  Catalog catalog = shipped_catalog();
  Result<Plan> plan = Error("not planned");
};

LlmPlanned llm_plan_for(const std::string& workload_json, const std::map<std::string, Measurement>& measured = {}) {
  LlmPlanned p;
  Result<BenchReport> b = load_bench(kFixtures + "decoder-bench.json");
  EXPECT_TRUE(b.ok()) << b.error().message();
  p.bench = *b;
  Result<Workload> w = load_workload(write(sparq::test::temp_dir("planner_decoder"), "w.json", workload_json));
  EXPECT_TRUE(w.ok()) << w.error().message();
  p.plan = make_plan(p.bench, std::nullopt, *w, p.catalog, measured);
  return p;
}

TEST(PlannerDecoder, CapacityAndCostFollowFromPrefillAndDecodeRates) {
  const Raw r;
  // The workload, in numbers the test recomputes from.
  const double requests_per_day = 50000, prompt = 300, generated = 120, context = 1024, hours = 12, peak = 2.5,
               growth = 0.3, power_w = 120;
  LlmPlanned p = llm_plan_for(json({{"requests_per_day", requests_per_day}, {"avg_prompt_tokens", prompt},
                             {"avg_generated_tokens", generated}, {"max_context_tokens", context},
                             {"hours_per_day", hours}, {"peak_to_average", peak}, {"growth_per_year", growth},
                             {"redundancy", 1}, {"this_machine", {{"power_w", power_w}, {"price_usd", 2000}}}})
                           .dump());
  ASSERT_TRUE(p.plan.ok()) << p.plan.error().message();
  const Plan& plan = *p.plan;
  const double requests_month = requests_per_day * 30, tokens_month = requests_month * generated;
  const double peak_tokens_per_s = tokens_month / (30 * hours * 3600) * peak * std::pow(1 + growth, 3);
  EXPECT_NEAR(plan.demand.tokens_per_month, tokens_month, 1e-6);
  EXPECT_NEAR(plan.demand.peak_tokens_per_s, peak_tokens_per_s, 1e-9 * peak_tokens_per_s);

  // The bench machine: its decode rate at the workload's longer context reads more KV cache.
  const double decode_here = r.decode * r.bytes_per_token(r.prompt, r.generated) / r.bytes_per_token(prompt, generated);
  const Option& me = find(plan, kThisMachine);
  ASSERT_EQ(me.phases.size(), 2u);
  EXPECT_DOUBLE_EQ(me.phases[0].tokens_per_s, r.prefill);
  EXPECT_NEAR(me.phases[1].tokens_per_s, decode_here, 1e-9 * decode_here);
  const double me_tokens_per_s = generated / (prompt / r.prefill + generated / decode_here);
  EXPECT_NEAR(me.tokens_per_s, me_tokens_per_s, 1e-9 * me_tokens_per_s);
  EXPECT_TRUE(me.throughput_measured);
  EXPECT_EQ(me.units_for_peak, static_cast<int>(std::ceil(peak_tokens_per_s / (me_tokens_per_s * 0.7))));
  EXPECT_EQ(me.units, me.units_for_peak + 1);
  // One unit owned: per unit, maintenance and electricity at the default $0.15/kWh and PUE
  // 1.3; each further unit is bought at this_machine.price_usd over 3 years.
  const double me_unit_month = 500.0 / 12 + power_w / 1000 * hours * 30 * 0.15 * 1.3;
  EXPECT_EQ(me.owned_units, 1);
  EXPECT_NEAR(me.usd_per_month, me.units * me_unit_month + (me.units - 1) * 2000.0 / 36, 1e-6);
  EXPECT_NEAR(me.usd_per_million_tokens, me.usd_per_month / tokens_month * 1e6, 1e-9);
  EXPECT_NEAR(me.usd_per_million_requests, me.usd_per_month / requests_month * 1e6, 1e-9);
  // The first token waits for the batch's prompts; a decode step's latency follows the rate.
  EXPECT_NEAR(me.phases[0].p95_ms, r.ttft_p95 * prompt / r.prompt, 1e-9);
  EXPECT_NEAR(me.phases[1].p95_ms, r.token_p95 * r.decode / decode_here, 1e-9);
  // With no token objective the machine holds as many streams as fit its memory, up to the
  // catalog's CPU maximum: weights + their KV caches at the longest context, + 20 % overhead.
  const double machine_memory = r.j["hwinfo"]["numa"][0]["memory_bytes"];
  int streams = p.catalog.cpu.max_batch;
  while (streams > r.batch && (r.model_bytes + r.kv_per_token * streams * context) * 1.2 > 0.65 * machine_memory) --streams;
  EXPECT_EQ(me.streams_per_unit, streams);
  EXPECT_NEAR(me.memory_needed_bytes, (r.model_bytes + r.kv_per_token * streams * context) * 1.2, 1);

  // Another CPU: prefill's matmul share by the int8 peak ratio, the rest by cores (within
  // the bandwidth ratio); decode's by the bandwidth ratio, the rest by cores.
  const Device& xeon = device(p.catalog, "xeon-32c-server");
  const Option& x = find(plan, "xeon-32c-server");
  const double bw = xeon.bandwidth_gbs * p.catalog.cpu.bandwidth / r.bandwidth_gbs, ops = xeon.int8_tops * 1e3 / r.int8_gops,
               cores = xeon.cores / r.cores;
  const double read_share = p.catalog.cpu.matmul_share_read, gen_share = p.catalog.cpu.matmul_share_generate;
  const double x_prefill = r.prefill / (read_share / ops + (1 - read_share) / std::min(cores, bw));
  const double x_decode = decode_here / (gen_share / bw + (1 - gen_share) / cores);
  EXPECT_NEAR(x.phases[0].tokens_per_s, x_prefill, 1e-9 * x_prefill);
  EXPECT_NEAR(x.phases[1].tokens_per_s, x_decode, 1e-9 * x_decode);
  const double x_tokens_per_s = generated / (prompt / x_prefill + generated / x_decode);
  EXPECT_NEAR(x.tokens_per_s, x_tokens_per_s, 1e-9 * x_tokens_per_s);
  EXPECT_FALSE(x.throughput_measured);
  const int x_units = static_cast<int>(std::ceil(peak_tokens_per_s / (x_tokens_per_s * 0.7))) + 1;
  EXPECT_EQ(x.units, x_units);
  const double x_energy_month = xeon.power_w / 1000 * hours * 30 * 0.15 * 1.3;
  EXPECT_NEAR(x.usd_per_month, x_units * (xeon.price_usd / 36 + 500.0 / 12 + x_energy_month), 1e-6);
  EXPECT_NEAR(x.tco_3y, x_units * (xeon.price_usd + xeon.power_w / 1000 * hours * 365 * 3 * 0.15 * 1.3 + 500 * 3),
              1e-6);
  EXPECT_NEAR(x.tco_5y, x_units * (xeon.price_usd + xeon.power_w / 1000 * hours * 365 * 5 * 0.15 * 1.3 + 500 * 5),
              1e-6);
  EXPECT_NEAR(x.usd_per_million_tokens, x.usd_per_month / tokens_month * 1e6, 1e-9);
  EXPECT_NEAR(x.phases[0].p95_ms, r.ttft_p95 * r.prefill / x_prefill * prompt / r.prompt, 1e-9);

  // A GPU (no latency objective): the largest batch that fits, prefill of its prompts and
  // decode steps reading the weights once and each sequence's KV cache at the mean context.
  const Device& gpu = device(p.catalog, "rtx-4090");
  const Efficiency& eff = p.catalog.gpu;
  const int batch = r.batch_that_fits(gpu, eff, context, 0.65);
  const double g_prefill = batch * prompt / r.pass_seconds(gpu, eff, batch, prompt, 0);
  const double g_decode = batch / r.pass_seconds(gpu, eff, batch, 1, prompt + generated / 2);
  const Option& g = find(plan, "rtx-4090");
  EXPECT_EQ(g.phases[1].batch, batch);
  EXPECT_EQ(g.streams_per_unit, batch);
  EXPECT_NEAR(g.phases[0].tokens_per_s, g_prefill, 1e-9 * g_prefill);
  EXPECT_NEAR(g.phases[1].tokens_per_s, g_decode, 1e-9 * g_decode);
  EXPECT_NEAR(g.tokens_per_s, generated / (prompt / g_prefill + generated / g_decode), 1e-6);
  EXPECT_NE(g.phases[1].basis.find("memory-bound"), std::string::npos) << g.phases[1].basis;
  // A GPU unit is its card and its host server, both bought.
  EXPECT_EQ(g.card_price_usd, gpu.price_usd);
  EXPECT_GT(g.host_price_usd, 0);
  const double g_month = (gpu.price_usd + gpu.host_price_usd) / 36 + 500.0 / 12 +
                         (gpu.power_w + gpu.host_power_w) / 1000 * hours * 30 * 0.15 * 1.3;
  EXPECT_NEAR(g.usd_per_month, g.units * g_month, 1e-6);

  // Ranked by cost, feasible first; the verdict names the first and quotes per generated token.
  for (size_t i = 1; i < plan.options.size() && plan.options[i].feasible; ++i)
    EXPECT_LE(plan.options[i - 1].usd_per_million_tokens, plan.options[i].usd_per_million_tokens);
  ASSERT_TRUE(plan.options.front().feasible);
  EXPECT_EQ(plan.verdict.cheapest, plan.options.front().name);
  EXPECT_NE(plan.verdict.summary.find("per 1M generated tokens"), std::string::npos) << plan.verdict.summary;
}

TEST(PlannerDecoder, LatencyObjectivesApplyPerPhaseAndMemoryFitsTheKvCache) {
  const Raw r;
  // The bench machine's first token comes after r.ttft_p95 ms for the bench's prompt: half
  // of that misses, and so the machine is out while faster devices stay in.
  LlmPlanned slow = llm_plan_for(json({{"requests_per_day", 1000}, {"ttft_slo_p95_ms", r.ttft_p95 / 2}}).dump());
  ASSERT_TRUE(slow.plan.ok()) << slow.plan.error().message();
  const Option& me = find(*slow.plan, kThisMachine);
  EXPECT_FALSE(me.phases[0].latency_ok);
  EXPECT_TRUE(me.phases[1].latency_ok);  // no token objective
  EXPECT_FALSE(me.feasible);
  EXPECT_TRUE(std::any_of(me.warnings.begin(), me.warnings.end(),
                          [](const std::string& w) { return w.find("TTFT p95") != std::string::npos; }));
  EXPECT_FALSE(slow.plan->verdict.cheapest.empty());
  EXPECT_NE(slow.plan->verdict.cheapest, kThisMachine);

  // Tokens per second per user is the token-latency objective in other units.
  LlmPlanned per_user = llm_plan_for(R"({"requests_per_day": 1000, "tokens_per_s_per_user": 8})");
  LlmPlanned per_token = llm_plan_for(R"({"requests_per_day": 1000, "token_latency_slo_p95_ms": 125})");
  ASSERT_TRUE(per_user.plan.ok() && per_token.plan.ok());
  for (size_t i = 0; i < per_user.plan->options.size(); ++i) {
    const Option& a = per_user.plan->options[i];
    const Option& b = per_token.plan->options[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_DOUBLE_EQ(a.phases[1].objective_ms, 125);
    EXPECT_EQ(a.phases[1].latency_ok, a.phases[1].p95_ms <= 125) << a.name;
    EXPECT_EQ(a.feasible, b.feasible) << a.name;
  }
  EXPECT_FALSE(find(*per_user.plan, kThisMachine).phases[1].latency_ok) << "182 ms per token misses 125 ms";

  // The longest context the model takes: the KV cache of 4 sequences at 2048 tokens against
  // each device's memory, by the headroom rule.
  LlmPlanned full =
      llm_plan_for(R"({"requests_per_day": 1000, "max_context_tokens": 2048, "costs": {"memory_headroom": 0.1}})");
  ASSERT_TRUE(full.plan.ok());
  int fit = 0;
  for (const Option& o : full.plan->options) {
    // CPUs at the streams they hold (at least the bench's batch); accelerators at the
    // largest batch that fits, or 1.
    bool cpu = o.kind == DeviceKind::cpu;
    double batch = cpu ? o.streams_per_unit : o.phases[1].batch;
    if (cpu) {
      EXPECT_GE(batch, r.batch) << o.name;
    }
    const double needed =
        ((cpu ? r.model_bytes : std::max(r.model_bytes, r.dense_bytes)) + r.kv_per_token * batch * 2048) * 1.2;
    EXPECT_NEAR(o.memory_needed_bytes, needed, 1) << o.name;
    EXPECT_EQ(o.fits, o.memory_bytes <= 0 || needed <= o.memory_bytes * 0.1) << o.name;
    if (!cpu && !o.fits) {
      EXPECT_EQ(batch, 1) << o.name;
    }
    fit += o.fits;
  }
  EXPECT_GT(fit, 0);
  EXPECT_LT(fit, static_cast<int>(full.plan->options.size()));
}

// Issue 22: concurrent users were silently ignored, and no plan said which objective binds.
TEST(PlannerDecoder, ConcurrentUsersSizeTheUnitsAndTheBindingObjectiveIsNamed) {
  const Raw r;
  LlmPlanned p = llm_plan_for(R"({"requests_per_day": 2000, "peak_concurrent_users": 100, "token_latency_slo_p95_ms": 6,
                           "this_machine": {"price_usd": 2000}})");
  ASSERT_TRUE(p.plan.ok()) << p.plan.error().message();
  // The bench machine holds the bench's 4 streams: 25 units for 100 users, whatever the volume.
  const Option& me = find(*p.plan, kThisMachine);
  EXPECT_EQ(me.streams_per_unit, r.batch);
  EXPECT_EQ(me.units_for_peak, static_cast<int>(std::ceil(100 / r.batch)));
  EXPECT_EQ(me.units_set_by, "concurrent users");
  EXPECT_TRUE(std::any_of(p.plan->verdict.warnings.begin(), p.plan->verdict.warnings.end(),
                          [](const std::string& w) { return w.find("bench with --batch-size 100") != std::string::npos; }));
  // A GPU's decode batch is held by the 6 ms token objective: the largest whose step meets it.
  const Device& gpu = device(p.catalog, "rtx-4090");
  const Option& g = find(*p.plan, "rtx-4090");
  const PhaseEstimate& decode = g.phases[1];
  const double spread = r.j["token_latency_ms"]["p95"].get<double>() / r.j["token_latency_ms"]["p50"].get<double>();
  auto step_ms = [&](int batch) { return r.pass_seconds(gpu, p.catalog.gpu, batch, 1, r.prompt + r.generated / 2) * 1e3 * spread; };
  EXPECT_LE(step_ms(decode.batch), 6);
  EXPECT_GT(step_ms(decode.batch + 1), 6);
  EXPECT_EQ(decode.batch_limit, "token p95 objective");
  EXPECT_EQ(g.binding_objective, "token p95");
  // The verdict says what binds its choice.
  EXPECT_TRUE(std::any_of(p.plan->verdict.reasons.begin(), p.plan->verdict.reasons.end(),
                          [](const std::string& r) { return r.find(" binds") != std::string::npos; }));
  EXPECT_EQ(g.streams_per_unit, decode.batch);
  EXPECT_GE(g.units_for_peak, static_cast<int>(std::ceil(100.0 / decode.batch)));

  // A looser objective lets a CPU step more streams than the bench ran: its step grows by the
  // share of it that is not streaming weights, as the streams do, and by their KV caches.
  LlmPlanned loose = llm_plan_for(R"({"requests_per_day": 2000, "peak_concurrent_users": 100, "token_latency_slo_p95_ms": 400,
                               "this_machine": {"price_usd": 2000}})");
  ASSERT_TRUE(loose.plan.ok());
  const Option& held = find(*loose.plan, kThisMachine);
  const double s = loose.catalog.cpu.matmul_share_generate, kv = r.kv_per_token * (r.prompt + r.generated / 2);
  auto cpu_step = [&](int n) {
    return held.phases[1].p95_ms * (s * (r.step_bytes + n * kv) / (r.step_bytes + r.batch * kv) + (1 - s) * n / r.batch);
  };
  EXPECT_GT(held.streams_per_unit, r.batch);
  EXPECT_LE(cpu_step(held.streams_per_unit), 400);
  EXPECT_GT(cpu_step(held.streams_per_unit + 1), 400);
  EXPECT_EQ(held.units_for_peak, static_cast<int>(std::ceil(100.0 / held.streams_per_unit)));

  // Unified memory: the laptop's and the Mac's memory is the OS's too; the headroom is shown.
  json j = to_json(*p.plan, p.bench, *load_workload(write(sparq::test::temp_dir("planner_unified"), "w.json",
                                                          R"({"requests_per_day": 2000})")));
  for (const json& o : j["options"]) {
    const Device* d = nullptr;
    for (const Device& dev : p.catalog.devices)
      if (dev.name == o["name"]) d = &dev;
    if (!d) continue;
    EXPECT_EQ(o["memory"]["unified"], d->unified_memory) << d->name;
    EXPECT_NEAR(o["memory"]["headroom_bytes"].get<double>(),
                d->memory_bytes * 0.65 - o["memory"]["needed_bytes"].get<double>(), 1) << d->name;
  }
  EXPECT_TRUE(device(p.catalog, "apple-m4-max").unified_memory);
  EXPECT_FALSE(device(p.catalog, "h100").unified_memory);
}

TEST(PlannerDecoder, WorkloadMustSuitTheBenchAndTheModelsContext) {
  const std::string dir = sparq::test::temp_dir("planner_decoder_mismatch");
  const Catalog catalog = shipped_catalog();
  Result<BenchReport> decoder = load_bench(kFixtures + "decoder-bench.json");
  Result<BenchReport> encoder = load_bench(kFixtures + "bench.json");
  ASSERT_TRUE(decoder.ok() && encoder.ok());
  auto error_of = [&](const BenchReport& bench, const std::string& name, const std::string& text) {
    Result<Workload> w = load_workload(write(dir, name, text));
    EXPECT_TRUE(w.ok()) << w.error().message();
    Result<Plan> plan = make_plan(bench, std::nullopt, *w, catalog, {});
    EXPECT_FALSE(plan.ok()) << name;
    return plan.ok() ? std::string() : plan.error().message();
  };
  std::string e = error_of(*encoder, "llm.json", R"({"requests_per_day": 10})");
  EXPECT_NE(e.find(dir + "/llm.json: plans generation requests"), std::string::npos) << e;
  EXPECT_NE(e.find(kFixtures + "bench.json is the bench of an encoder"), std::string::npos) << e;
  e = error_of(*decoder, "docs.json", R"({"documents_per_day": 10})");
  EXPECT_NE(e.find("plans documents"), std::string::npos) << e;
  EXPECT_NE(e.find("example-llm-workload.yaml"), std::string::npos) << e;
  e = error_of(*decoder, "long.json", R"({"requests_per_day": 10, "max_context_tokens": 4096})");
  EXPECT_NE(e.find("max_context_tokens: 4096 tokens per sequence exceed the model's context of 2048"),
            std::string::npos) << e;
  e = error_of(*decoder, "long_default.json", R"({"requests_per_day": 10, "avg_prompt_tokens": 2000})");
  EXPECT_NE(e.find("avg_prompt_tokens + avg_generated_tokens: 2064 tokens"), std::string::npos) << e;
  e = error_of(*decoder, "short.json", R"({"requests_per_day": 10, "max_context_tokens": 100})");
  EXPECT_NE(e.find("max_context_tokens: 100 is shorter than an average request (128 prompt + 64 generated"),
            std::string::npos) << e;
}

TEST(PlannerDecoder, MeasurementsOfPrefillAndDecodeWin) {
  const Raw r;
  auto m = parse_measurement("rtx-4090:prefill_tokens_per_s=9000,decode_tokens_per_s=400,token_latency_p95_ms=12");
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->second.kind, ModelKind::decoder);
  LlmPlanned p = llm_plan_for(R"({"requests_per_day": 1000})", {*m});
  LlmPlanned estimated = llm_plan_for(R"({"requests_per_day": 1000})");
  ASSERT_TRUE(p.plan.ok() && estimated.plan.ok()) << p.plan.error().message();
  const Option& g = find(*p.plan, "rtx-4090");
  const PhaseEstimate& e = find(*estimated.plan, "rtx-4090").phases[0];
  EXPECT_TRUE(g.throughput_measured);
  EXPECT_DOUBLE_EQ(g.tokens_per_s, r.generated / (r.prompt / 9000 + r.generated / 400));
  EXPECT_EQ(g.phases[1].p95_ms, 12);
  // Not given: the estimated pass's p95, at the measured rate.
  EXPECT_NEAR(g.phases[0].p95_ms, e.p95_ms * e.tokens_per_s / 9000, 1e-9);

  // Decode alone measured: the option's throughput is still part estimate.
  auto decode_only = parse_measurement("rtx-4090:decode_tokens_per_s=400");
  ASSERT_TRUE(decode_only.ok());
  LlmPlanned partial = llm_plan_for(R"({"requests_per_day": 1000})", {*decode_only});
  ASSERT_TRUE(partial.plan.ok());
  const Option& half = find(*partial.plan, "rtx-4090");
  EXPECT_FALSE(half.throughput_measured);
  EXPECT_FALSE(half.phases[0].measured);
  EXPECT_TRUE(half.phases[1].measured);

  // A decoder bench made on the device carries both phases.
  auto from_bench = parse_measurement("this-machine:bench=" + kFixtures + "decoder-bench.json");
  ASSERT_TRUE(from_bench.ok()) << from_bench.error().message();
  EXPECT_EQ(from_bench->second.phases.at(Stage::generate).tokens_per_s, r.decode);
  EXPECT_EQ(from_bench->second.phases.at(Stage::read).p95_ms, r.ttft_p95);

  // An encoder's figures and a decoder's do not mix, nor fit the other kind's bench.
  auto mixed = parse_measurement("l4:tokens_per_s=100,decode_tokens_per_s=20");
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.error().message().find("decode_tokens_per_s is a decoder's figure but tokens_per_s is an encoder's"),
            std::string::npos) << mixed.error().message();
  auto encoder_figures = parse_measurement("l4:tokens_per_s=100");
  ASSERT_TRUE(encoder_figures.ok());
  LlmPlanned wrong = llm_plan_for(R"({"requests_per_day": 1000})", {*encoder_figures});
  ASSERT_FALSE(wrong.plan.ok());
  EXPECT_NE(wrong.plan.error().message().find("measurement for l4: encoder figures"), std::string::npos)
      << wrong.plan.error().message();
}

}  // namespace
}  // namespace sparq::runtime::planner
