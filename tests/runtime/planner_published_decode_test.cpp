// Issue 22 ("Planner v2"): the planner's own single-stream decode estimates for Llama-shaped
// 7B, 3.8B and 1.5B models at Q4_K_M against the tokens/s the hardware-economics reference
// publishes (shared/reference/hardware-economics.md §2, read from the file), on every catalog
// device the table names. An estimate passes within kTolerance of the published range's ends.
//
// Accelerators: the planner's roofline needs only the model's shape (matmul parameters, the
// bytes a decode step reads, layers, KV cache per token), computed here from the shape.
// CPUs: the planner scales a measured rate; the measurement is the decoder fixture's
// (TinyLlama q8 at batch 4 on a 2-core AMX Xeon slice), carried over to the shape by the
// bytes a decode step reads at the bandwidth that machine achieved - the cross-check's one
// assumption beyond the planner's.
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>

#include "planner_fixtures.h"
#include "runtime/plan/plan.h"

namespace sparq::runtime::planner {
namespace {

const std::string kReference = std::string(SPARQ_SOURCE_DIR) + "/../shared/reference/hardware-economics.md";

// Within 1.5x of the published range's ends: the guide's ranges are llama.cpp-class runtimes
// on unnamed configurations, and the planner's factors are one per device kind.
constexpr double kTolerance = 1.5;

// A Llama-architecture decoder: multi-head or grouped-query attention, SwiGLU FFN.
struct Shape {
  std::string label;  // as the guide names the size
  double layers, hidden, ffn, vocab, heads, kv_heads;
  bool tied_embeddings;

  double kv_width() const { return hidden / heads * kv_heads; }
  // q, o: hidden^2; k, v: hidden x kv_width; gate, up, down: hidden x ffn; + the LM head.
  double matmul_parameters() const {
    return layers * (2 * hidden * hidden + 2 * hidden * kv_width() + 3 * hidden * ffn) + vocab * hidden;
  }
  double parameters() const { return matmul_parameters() + (tied_embeddings ? 0 : vocab * hidden); }
  double kv_bytes_per_token() const { return 2 * layers * kv_width() * 2; }  // K and V in f16
};

// Llama-2-7B, Phi-3-mini (3.8B) and Qwen2-1.5B, from their published configs.
const Shape kShapes[] = {{"7B", 32, 4096, 11008, 32000, 32, 32, false},
                         {"3.8B", 32, 3072, 8192, 32064, 32, 32, false},
                         {"1.5B", 28, 1536, 8960, 151936, 12, 2, true}};

// Q4_K_M bytes per parameter: guide §5 "Q4_K_M ~4.4 GB" for a 7B, over the 7B shape's count.
double q4_k_m_bytes_per_parameter() { return 4.4e9 / kShapes[0].parameters(); }

std::string reference_text() {
  std::ifstream in(kReference);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Range {
  double lo = 0, hi = 0;
};

// Guide §2: the 7B table's row, or the smaller models' "NAME a–b / c–d / e–f" (7B / 3.8B / 1.5B).
std::map<std::string, Range> published(const std::string& guide, const std::string& table_row,
                                       const std::string& smaller_name) {
  std::map<std::string, Range> out;
  std::smatch m;
  if (std::regex_search(guide, m, std::regex("\\| " + table_row + R"( \| (\d+)–(\d+) \|)")))
    out["7B"] = {std::stod(m[1]), std::stod(m[2])};
  if (!smaller_name.empty() &&
      std::regex_search(guide, m, std::regex(smaller_name + R"(\s+(\d+)–(\d+) / (\d+)–(\d+) / (\d+)–(\d+))"))) {
    EXPECT_EQ(out["7B"].lo, std::stod(m[1])) << smaller_name;
    out["3.8B"] = {std::stod(m[3]), std::stod(m[4])};
    out["1.5B"] = {std::stod(m[5]), std::stod(m[6])};
  }
  return out;
}

struct Named {
  std::string device, table_row, smaller_name;
};
const Named kNamed[] = {
    {"xeon-32c-server", R"(CPU 32-core Xeon W server \(AVX-512\))", "32-core Xeon"},
    {"core-ultra7-laptop", "CPU Intel Core Ultra 7 laptop", ""},
    {"ryzen9-7950x", R"(CPU AMD Ryzen 9 7950X desktop \(16 cores\))", ""},
    {"rtx-4060ti-16g", "GPU RTX 4060 Ti 16 GB", ""},
    {"rtx-4090", "GPU RTX 4090 24 GB", "RTX 4090"},
    {"a100-40g", "GPU A100 40 GB", ""},
    {"h100", "GPU H100 80 GB", ""},
    {"snapdragon-x-hexagon", R"(NPU Snapdragon X Elite \(Hexagon\))", "Snapdragon X Elite"},
    {"apple-m4-max", "Apple M4 Max", "M4 Max"},
    {"intel-npu-meteor-lake", R"(NPU Intel Core Ultra \(Meteor Lake\))", ""},
};

// The one device held to a wider tolerance, and why.
constexpr double kWiderTolerance = 2;
const std::map<std::string, std::string> kWider = {
    {"ryzen9-7950x",
     "the guide's 32-core Xeon, with 3.7x the Ryzen's bandwidth and 2x its cores, is no faster: no single CPU "
     "bandwidth share puts both within 1.5x (catalog efficiency.cpu.bandwidth is fitted to the Xeon)"}};

// The decoder fixture as if it had measured `shape` at Q4_K_M, one stream: its decode rate
// carried over at the bandwidth it achieved, its prefill at the int8 rate it achieved.
BenchReport bench_of(const Shape& shape, double prompt, double generated) {
  Result<BenchReport> fixture = load_bench(kFixtures + "decoder-bench.json");
  EXPECT_TRUE(fixture.ok());
  BenchReport b = *fixture;
  auto bytes_per_token = [&](const BenchReport& r, double p, double g) {
    return r.decode_weight_bytes / r.batch + r.kv_bytes_per_token * (p + g / 2);
  };
  const double achieved_bytes_per_s = b.phases[1].tokens_per_s * bytes_per_token(b, b.input_tokens, b.generated_tokens);
  const double achieved_ops_per_s = b.phases[0].tokens_per_s * 2 * b.matmul_parameters;
  const double per_parameter = q4_k_m_bytes_per_parameter();
  b.model_name = "llama-shaped " + shape.label + " Q4_K_M";
  b.parameters = shape.parameters();
  b.model_bytes = shape.parameters() * per_parameter;
  b.matmul_parameters = shape.matmul_parameters();
  b.matmul_dense_bytes = b.decode_weight_bytes = shape.matmul_parameters() * per_parameter;
  b.layers = shape.layers;
  b.context_length = 4096;
  b.kv_bytes_per_token = shape.kv_bytes_per_token();
  b.batch = 1;
  b.input_tokens = prompt, b.generated_tokens = generated;
  b.phases[0].tokens_per_s = achieved_ops_per_s / (2 * b.matmul_parameters);
  const double decode = achieved_bytes_per_s / bytes_per_token(b, prompt, generated);
  for (double* ms : {&b.phases[1].p50_ms, &b.phases[1].p95_ms, &b.phases[1].p99_ms})
    *ms *= b.phases[1].tokens_per_s / fixture->batch / decode;
  b.phases[1].tokens_per_s = decode;
  b.phases[1].tokens_per_s_min = b.phases[1].tokens_per_s_max = 0;
  return b;
}

TEST(PlannerPublishedDecode, SingleStreamEstimatesLandInTheGuidesRanges) {
  const std::string guide = reference_text();
  if (guide.empty()) GTEST_SKIP() << "no " << kReference;
  const double prompt = 16, generated = 64;
  Result<Workload> w = load_workload(write(sparq::test::temp_dir("planner_published"), "w.json",
                                           R"({"requests_per_day": 100, "avg_prompt_tokens": 16,
                                               "avg_generated_tokens": 64})"));
  ASSERT_TRUE(w.ok()) << w.error().message();
  Catalog catalog = shipped_catalog();
  catalog.gpu.max_batch = catalog.npu.max_batch = 1;  // single stream, as the guide measures
  std::map<std::string, std::map<std::string, Range>> ranges_of;  // device -> size -> published
  for (const Named& n : kNamed) {
    ranges_of[n.device] = published(guide, n.table_row, n.smaller_name);
    ASSERT_TRUE(ranges_of[n.device].count("7B")) << n.device << ": no row \"" << n.table_row << "\" in " << kReference;
  }
  int checked = 0;
  std::string table = "| device | model | estimate tok/s | published tok/s |\n|---|---|---|---|\n";
  for (const Shape& shape : kShapes) {
    BenchReport b = bench_of(shape, prompt, generated);
    Result<Plan> plan = make_plan(b, std::nullopt, *w, catalog, {});
    ASSERT_TRUE(plan.ok()) << plan.error().message();
    for (const Named& n : kNamed) {
      const auto& ranges = ranges_of.at(n.device);
      auto range = ranges.find(shape.label);
      if (range == ranges.end()) continue;
      const PhaseEstimate& decode = find(*plan, n.device).phases[1];
      ASSERT_EQ(decode.batch, 1) << n.device;
      const auto [lo, hi] = range->second;
      table += fmt::format("| {} | {} | {:.1f} | {:g}–{:g} |\n", n.device, shape.label, decode.tokens_per_s, lo, hi);
      auto wider = kWider.find(n.device);
      const double tolerance = wider == kWider.end() ? kTolerance : kWiderTolerance;
      SCOPED_TRACE(n.device + " " + shape.label + ": " + decode.basis +
                   (wider == kWider.end() ? "" : fmt::format("; within {}x: {}", kWiderTolerance, wider->second)));
      EXPECT_GE(decode.tokens_per_s, lo / tolerance);
      EXPECT_LE(decode.tokens_per_s, hi * tolerance);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 10 + 2 * 4);
  std::cout << table;
}

}  // namespace
}  // namespace sparq::runtime::planner
