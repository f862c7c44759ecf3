// The planner's inputs beyond the encoder bench (whose errors planner_plan_test covers through
// the CLI): a decoder's `sparq bench --json` read field by field against the file's own
// numbers, older shapes still read, and the LLM workload's fields and their errors, each
// naming the file and the field.
#include <gtest/gtest.h>

#include <functional>

#include "planner_fixtures.h"
#include "runtime/plan/inputs.h"

namespace sparq::runtime::planner {
namespace {

using nlohmann::json;

TEST(PlannerInputs, DecoderBenchGivesPrefillAndDecodePhasesAndTheKvCachePerToken) {
  const json raw = read_json(kFixtures + "decoder-bench.json");
  Result<BenchReport> b = load_bench(kFixtures + "decoder-bench.json");
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(b->kind, ModelKind::decoder);
  EXPECT_EQ(b->batch, raw["batch"]);
  EXPECT_EQ(b->input_tokens, raw["prompt_tokens"]);
  EXPECT_EQ(b->generated_tokens, raw["generated_tokens"]);
  EXPECT_EQ(b->context_length, raw["model"]["context_length"]);
  EXPECT_EQ(b->decode_weight_bytes, raw["decode_weight_bytes_per_step"]);
  // The cache holds batch x (prompt + generated) tokens.
  EXPECT_DOUBLE_EQ(b->kv_bytes_per_token, raw["kv_cache_bytes"].get<double>() /
                                              (raw["batch"].get<double>() * (raw["prompt_tokens"].get<double>() +
                                                                              raw["generated_tokens"].get<double>())));
  ASSERT_EQ(b->phases.size(), 2u);
  const Phase& prefill = b->phases[0];
  const Phase& decode = b->phases[1];
  EXPECT_EQ(prefill.stage, Stage::read);
  EXPECT_EQ(prefill.name, "prefill");
  EXPECT_EQ(prefill.tokens_per_s, raw["prefill_tokens_per_s"]);
  EXPECT_EQ(prefill.p95_ms, raw["time_to_first_token_percentiles_ms"]["p95"]);
  EXPECT_EQ(decode.stage, Stage::generate);
  EXPECT_EQ(decode.name, "decode");
  EXPECT_EQ(decode.tokens_per_s, raw["decode_tokens_per_s"]);
  EXPECT_EQ(decode.p95_ms, raw["token_latency_ms"]["p95"]);
  EXPECT_TRUE(b->warnings.empty());

  // A report from before the percentiles: the median stands in, said as a warning.
  json older = raw;
  older.erase("time_to_first_token_percentiles_ms");
  older["model"].erase("context_length");
  const std::string path = write(sparq::test::temp_dir("planner_inputs_older"), "older.json", older.dump());
  Result<BenchReport> o = load_bench(path);
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->phases[0].p95_ms, raw["time_to_first_token_ms"]);
  EXPECT_EQ(o->context_length, 0);
  ASSERT_EQ(o->warnings.size(), 1u);
  EXPECT_NE(o->warnings[0].find(path + " gives the median time to first token only"), std::string::npos);
}

TEST(PlannerInputs, EncoderBenchVersion1ReadsAsOneEncodePhase) {
  const json raw = read_json(kFixtures + "bench.json");
  Result<BenchReport> b = load_bench(kFixtures + "bench.json");
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(b->kind, ModelKind::encoder);
  ASSERT_EQ(b->phases.size(), 1u);
  EXPECT_EQ(b->phases[0].name, "encode");
  EXPECT_EQ(b->phases[0].tokens_per_s, raw["tokens_per_s"]);
  EXPECT_EQ(b->phases[0].p95_ms, raw["latency_ms"]["p95"]);
  EXPECT_EQ(b->input_tokens, raw["avg_tokens_per_document"]);
  EXPECT_EQ(b->kv_bytes_per_token, 0);
  // documents_per_s alone: tokens/s through the average document.
  json docs_only = raw;
  docs_only.erase("tokens_per_s");
  Result<BenchReport> d = load_bench(write(sparq::test::temp_dir("planner_inputs_docs"), "b.json", docs_only.dump()));
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_DOUBLE_EQ(d->phases[0].tokens_per_s,
                   raw["documents_per_s"].get<double>() * raw["avg_tokens_per_document"].get<double>());
}

TEST(PlannerInputs, DecoderBenchErrorsNameTheFileAndField) {
  const std::string dir = sparq::test::temp_dir("planner_inputs_bad_bench");
  const json good = read_json(kFixtures + "decoder-bench.json");
  struct Case {
    std::string name, expect;
    std::function<void(json&)> edit;
  };
  const Case cases[] = {
      {"no_decode", "decode_tokens_per_s: missing", [](json& j) { j.erase("decode_tokens_per_s"); }},
      {"one_token", "decode_tokens_per_s: must be > 0 (a bench generating 1 token measures no decode step: run it "
                    "with --gen-len 2",
       [](json& j) { j["decode_tokens_per_s"] = 0; }},
      {"negative_prefill", "prefill_tokens_per_s: must be >= 0", [](json& j) { j["prefill_tokens_per_s"] = -3; }},
      {"no_kv", "kv_cache_bytes: missing", [](json& j) { j.erase("kv_cache_bytes"); }},
      {"no_step_bytes", "decode_weight_bytes_per_step: missing",
       [](json& j) { j.erase("decode_weight_bytes_per_step"); }},
      {"no_token_p95", "token_latency_ms.p95: missing", [](json& j) { j["token_latency_ms"].erase("p95"); }},
      {"ttft_text", "time_to_first_token_percentiles_ms.p95: must be a number",
       [](json& j) { j["time_to_first_token_percentiles_ms"]["p95"] = "fast"; }},
      {"no_prompt", "prompt_tokens: missing", [](json& j) { j.erase("prompt_tokens"); }},
      {"zero_batch", "batch: must be > 0", [](json& j) { j["batch"] = 0; }},
      {"context_text", "model.context_length: must be a number", [](json& j) { j["model"]["context_length"] = "2k"; }},
      // An encoder's report relabelled: the decoder's figures are asked for by name.
      {"relabelled", "prompt_tokens: missing", [](json& j) {
         j = read_json(kFixtures + "bench.json");
         j["model"]["kind"] = "decoder";
       }},
  };
  for (const Case& c : cases) {
    json j = good;
    c.edit(j);
    const std::string path = write(dir, c.name + ".json", j.dump());
    Result<BenchReport> b = load_bench(path);
    ASSERT_FALSE(b.ok()) << c.name;
    EXPECT_NE(b.error().message().find(path + ": " + c.expect), std::string::npos) << b.error().message();
  }
}

TEST(PlannerInputs, LlmWorkloadFields) {
  Result<Workload> w = load_workload(std::string(SPARQ_SOURCE_DIR) + "/models/example-llm-workload.yaml");
#ifdef SPARQ_HAVE_YAML_CPP
  ASSERT_TRUE(w.ok()) << w.error().message();
  EXPECT_EQ(w->kind, ModelKind::decoder);
  EXPECT_EQ(w->requests_per_day, 20000);
  EXPECT_EQ(w->input_tokens, 48);
  EXPECT_EQ(w->generated_tokens, 96);
  EXPECT_EQ(w->context_tokens, 256);
  EXPECT_EQ(w->latency_slo_p95_ms.at(Stage::read), 500);
  EXPECT_EQ(w->latency_slo_p95_ms.at(Stage::generate), 100);
  EXPECT_EQ(w->redundancy, 1);
#else
  ASSERT_FALSE(w.ok());
#endif
  const std::string dir = sparq::test::temp_dir("planner_inputs_llm");
  Result<Workload> monthly = load_workload(write(dir, "monthly.json", R"({"generated_tokens_per_month": 5e8,
      "tokens_per_s_per_user": 20, "hours_per_day": 8})"));
  ASSERT_TRUE(monthly.ok()) << monthly.error().message();
  EXPECT_EQ(monthly->kind, ModelKind::decoder);
  EXPECT_EQ(monthly->tokens_per_month, 5e8);
  EXPECT_EQ(monthly->requests_per_day, 0);
  EXPECT_EQ(monthly->input_tokens, 0);  // the bench's, when planned
  EXPECT_DOUBLE_EQ(monthly->latency_slo_p95_ms.at(Stage::generate), 1000.0 / 20);
  EXPECT_EQ(monthly->latency_slo_p95_ms.count(Stage::read), 0u);
}

TEST(PlannerInputs, LlmWorkloadErrorsNameTheFileAndField) {
  const std::string dir = sparq::test::temp_dir("planner_inputs_bad_llm");
  struct Case { std::string name, text, expect; };
  const Case cases[] = {
      {"negative", R"({"requests_per_day": -5})", "requests_per_day: must be between 0 and 1e+12"},
      {"no_volume", R"({"avg_prompt_tokens": 100})",
       "requests_per_day: missing: give requests_per_day or generated_tokens_per_month"},
      {"huge_prompt", R"({"requests_per_day": 5, "avg_prompt_tokens": 1e9})", "avg_prompt_tokens: must be between 0"},
      {"text_generated", R"({"requests_per_day": 5, "avg_generated_tokens": "many"})",
       "avg_generated_tokens: must be a number"},
      {"both_token_objectives",
       R"({"requests_per_day": 5, "token_latency_slo_p95_ms": 50, "tokens_per_s_per_user": 20})",
       "tokens_per_s_per_user: give it or token_latency_slo_p95_ms, not both"},
      {"negative_ttft", R"({"requests_per_day": 5, "ttft_slo_p95_ms": -1})", "ttft_slo_p95_ms: must be between"},
      {"typo", R"({"requests_per_day": 5, "ttft_slo_p95": 200})",
       "ttft_slo_p95: unknown key (did you mean ttft_slo_p95_ms?)"},
      {"encoder_objective", R"({"requests_per_day": 5, "latency_slo_p95_ms": 200})",
       "latency_slo_p95_ms: is a field of document workloads (encoders)"},
      {"decoder_field_in_documents", R"({"documents_per_day": 5, "avg_generated_tokens": 20})",
       "avg_generated_tokens: is a field of generation-request workloads (decoders)"},
      {"both_volumes", R"({"documents_per_day": 5, "requests_per_day": 5})",
       "requests_per_day: a workload counts documents"},
      {"bad_context", R"({"requests_per_day": 5, "max_context_tokens": 1e12})", "max_context_tokens: must be between"},
      {"costs_typo", R"({"requests_per_day": 5, "costs": {"utilization": 0.5}})",
       "costs.utilization: unknown key (did you mean utilisation?)"},
  };
  for (const Case& c : cases) {
    const std::string path = write(dir, c.name + ".json", c.text);
    Result<Workload> w = load_workload(path);
    ASSERT_FALSE(w.ok()) << c.name;
    EXPECT_NE(w.error().message().find(path + ": " + c.expect), std::string::npos) << w.error().message();
  }
}

}  // namespace
}  // namespace sparq::runtime::planner
