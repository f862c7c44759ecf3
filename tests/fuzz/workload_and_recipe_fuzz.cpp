// Fuzzes the YAML and JSON documents users write for `sparq plan` (the workload, and the
// bench/eval reports and device catalog it also reads) and for `sparq convert --recipe`
// (compression recipes). The first input byte picks the syntax and the document:
//   bit 0: YAML (1) or JSON (0);
//   (byte >> 1) % 5: 0 workload (then a plan from it with the fixture bench report of its
//   kind, an encoder's or a decoder's, and the shipped catalog), 1 recipe (then its rules assigned to a BERT layer's tensors),
//   2 bench report, 3 eval report, 4 catalog.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/document.h"
#include "fuzz_scratch.h"
#include "runtime/convert/compression_recipe.h"
#include "runtime/plan/catalog.h"
#include "runtime/plan/inputs.h"
#include "runtime/plan/plan.h"

namespace {

namespace planner = sparq::runtime::planner;
using sparq::fuzz::Scratch;

struct Fixtures {
  planner::BenchReport bench;          // an encoder's, for document workloads
  planner::BenchReport decoder_bench;  // a decoder's, for generation-request workloads
  planner::Catalog catalog;
  std::vector<sparq::runtime::RecipeTensor> tensors;
  Fixtures() {
    bench = planner::load_bench(SPARQ_SOURCE_DIR "/tests/runtime/fixtures/planner/bench.json").value();
    decoder_bench = planner::load_bench(SPARQ_SOURCE_DIR "/tests/runtime/fixtures/planner/decoder-bench.json").value();
    catalog = planner::load_catalog(SPARQ_SOURCE_DIR "/runtime/plan/catalog.json").value();
    for (std::string layer : {"layers.0.", "layers.1."}) {
      for (const char* m : {"attn.q.weight", "attn.k.weight", "attn.v.weight", "attn.out.weight"})
        tensors.push_back({layer + m, {64, 64}});
      tensors.push_back({layer + "ffn.up.weight", {256, 64}});
      tensors.push_back({layer + "ffn.down.weight", {64, 256}});
      tensors.push_back({layer + "attn.q.bias", {64}});
    }
    tensors.push_back({"embeddings.word.weight", {1000, 64}});
  }
};

void plan_for(const std::string& path) {
  static const Fixtures fixtures;
  auto workload = planner::load_workload(path);
  if (!workload) return;
  const planner::BenchReport& bench =
      workload->kind == planner::ModelKind::decoder ? fixtures.decoder_bench : fixtures.bench;
  auto plan = planner::make_plan(bench, std::nullopt, *workload, fixtures.catalog, {});
  if (plan) (void)planner::to_json(*plan, bench, *workload).dump();
}

void recipe_for(std::string_view text, bool yaml) {
  static const Fixtures fixtures;
  auto document = sparq::formats::parse_document(std::string(text), yaml ? "recipe.yaml" : "recipe.json", yaml);
  if (!document) return;
  auto recipe = sparq::runtime::recipe_from_json(*document, "recipe");
  if (recipe) (void)sparq::runtime::assign_rules(*recipe, fixtures.tensors);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool yaml = data[0] & 1;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Scratch& s = Scratch::get();
  const std::string ext = yaml ? ".yaml" : ".json";
  switch ((data[0] >> 1) % 5) {
    case 0:
      plan_for(s.write("workload" + ext, rest));
      break;
    case 1:
      recipe_for(rest, yaml);
      break;
    case 2:
      (void)planner::load_bench(s.write("bench" + ext, rest));
      break;
    case 3:
      (void)planner::load_eval(s.write("eval" + ext, rest));
      break;
    default:
      (void)planner::load_catalog(s.write("catalog" + ext, rest));
      break;
  }
  return 0;
}
