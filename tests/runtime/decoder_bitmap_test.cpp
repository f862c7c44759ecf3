// Pruned decoder weights in bitmap rows (formats/SPEC.md §5), end to end through the converter
// and the model: a decoder imported with a pruning recipe stores its pruned q8 (groups of 32)
// and q4 linear weights as bitmap rows where that is smaller, and the model runs them through
// bitmap_matmul with the logits of the same pruned weights stored dense. Encoders keep csr/bsr.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "formats/encoding_spec.h"
#include "formats/sparq_reader.h"
#include "runtime/convert/compression_recipe.h"
#include "runtime/convert/hf_import.h"
#include "runtime/convert/sparq_reencode.h"
#include "runtime/model/decoder_model.h"

namespace sparq::runtime {
namespace {

const std::string kLlama = std::string(SPARQ_SOURCE_DIR) + "/models/debian-llama";

// debian-llama with 70 % of every linear weight pruned by magnitude, in `weights`.
std::string import_pruned(const std::string& dir, const std::string& name, const std::string& weights,
                          bool keep_sparse) {
  auto recipe = recipe_from_json({{"rules", {{{"match", "*"}, {"sparsity", 0.7}}}}}, "test recipe");
  EXPECT_TRUE(recipe.ok()) << recipe.error().message();
  HfImportOptions o;
  o.weights = *formats::parse_encode_options(weights);
  o.weights_given = true;
  o.keep_sparse = keep_sparse;
  o.recipe = &*recipe;
  const std::string path = dir + "/" + name + ".sparq";
  auto imported = import_hf_checkpoint(kLlama, o, path);
  EXPECT_TRUE(imported.ok()) << imported.error().message();
  return path;
}

// Logits of each position of a fixed prompt, prefilled in one step.
std::vector<float> prompt_logits(const std::string& path, std::vector<std::string>* kernels_used = nullptr) {
  auto m = DecoderModel::load(path);
  EXPECT_TRUE(m.ok()) << m.error().message();
  if (!m.ok()) return {};
  if (kernels_used) *kernels_used = (*m)->describe_kernels();
  const std::vector<int32_t> tokens = {1, 57, 300, 12, 999, 4, 77, 250, 31, 8};
  auto cache = (*m)->make_cache(1, 32, kernels::KvEncoding::f32);
  EXPECT_TRUE(cache.ok());
  DecodeStep step{.slot = 0, .tokens = tokens, .all_logits = true};
  std::vector<float> out(tokens.size() * (*m)->config().vocab_size);
  Status s = (*m)->forward({&step, 1}, *cache, out);
  EXPECT_TRUE(s.ok()) << s.error().message();
  return out;
}

size_t stored_as(const std::string& path, const std::string& prefix) {
  auto reader = formats::SparqReader::open(path);
  EXPECT_TRUE(reader.ok());
  size_t n = 0;
  for (const auto& t : (*reader)->tensors()) n += t.desc.encoding_string().rfind(prefix, 0) == 0;
  return n;
}

void expect_same_logits(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  float worst = 0, scale = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, std::abs(got[i] - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  // Same weights, same activation quantization: only the order of float additions differs.
  EXPECT_LE(worst, 2e-5f * scale) << what << ": largest |logit| " << scale;
}

TEST(DecoderBitmap, PrunedQ8AndQ4WeightsRunAsBitmapRowsWithTheLogitsOfTheirDenseEncoding) {
  const std::string dir = test::temp_dir("decoder_bitmap");
  for (const std::string weights : {"q8:g32", "q4:g32"}) {
    const std::string bitmap = import_pruned(dir, "bitmap-" + weights.substr(0, 2), weights, true);
    const std::string dense = import_pruned(dir, "dense-" + weights.substr(0, 2), weights, false);
    // Every pruned linear weight (7 per layer, and the head) is bitmap rows; none stays csr.
    EXPECT_GE(stored_as(bitmap, "bitmap:" + weights.substr(0, 2)), 7u) << weights;
    EXPECT_EQ(stored_as(bitmap, "csr"), 0u) << weights;
    EXPECT_EQ(stored_as(dense, "bitmap"), 0u) << weights;
    std::vector<std::string> kernels_used;
    const std::vector<float> got = prompt_logits(bitmap, &kernels_used);
    EXPECT_TRUE(std::any_of(kernels_used.begin(), kernels_used.end(),
                            [](const std::string& k) { return k.find("-> bitmap") != std::string::npos; }))
        << weights;
    expect_same_logits(got, prompt_logits(dense), weights);
  }
}

TEST(DecoderBitmap, PerRowQ8IsOneGroupPerRowAndAsymmetricQ4HasNoBitmapForm) {
  const std::string dir = test::temp_dir("decoder_bitmap_other");
  // q8 with one scale per row: bitmap rows with one scale group of all the row's columns.
  auto rows = formats::SparqReader::open(import_pruned(dir, "rows", "q8", true));
  ASSERT_TRUE(rows.ok());
  size_t bitmap = 0;
  for (const auto& t : (*rows)->tensors()) {
    if (t.desc.encoding != formats::Encoding::bitmap) continue;
    ++bitmap;
    EXPECT_EQ(t.desc.encoding_string(), "bitmap:q8:g" + std::to_string(t.desc.dims.back())) << t.desc.name;
  }
  EXPECT_GT(bitmap, 0u);
  EXPECT_EQ(stored_as(import_pruned(dir, "asym", "q4:g32:asym", true), "bitmap"), 0u);
}

// Re-encoding a bitmap decoder with a recipe prunes further in the weights' own q8:g32 (the
// dense form of bitmap:q8:g32) and stores bitmap rows again: a weight kept by both prunings
// decodes to its value before, requantized within half a step of its group's new scale (at
// most max|w| / 254).
TEST(DecoderBitmap, ReencodingPrunesFurtherInTheSameValues) {
  const std::string dir = test::temp_dir("decoder_bitmap_reencode");
  const std::string source = import_pruned(dir, "source", "q8:g32", true);
  auto recipe = recipe_from_json({{"rules", {{{"match", "*"}, {"sparsity", 0.8}}}}}, "test recipe");
  ASSERT_TRUE(recipe.ok()) << recipe.error().message();
  ReencodeOptions o;
  o.recipe = &*recipe;
  auto reencoded = reencode_sparq(source, o, dir + "/further.sparq");
  ASSERT_TRUE(reencoded.ok()) << reencoded.error().message();
  auto before = formats::SparqReader::open(source), after = formats::SparqReader::open(dir + "/further.sparq");
  ASSERT_TRUE(before.ok() && after.ok());
  size_t bitmap_tensors = 0;
  for (const auto& t : (*after)->tensors()) {
    if (t.desc.encoding != formats::Encoding::bitmap) continue;
    ++bitmap_tensors;
    EXPECT_EQ(t.desc.encoding_string(), "bitmap:q8:g32") << t.desc.name;
    const formats::TensorView* was = (*before)->find(t.desc.name);
    ASSERT_NE(was, nullptr) << t.desc.name;
    auto now_values = formats::decode_tensor(t.desc, t.payload), was_values = formats::decode_tensor(was->desc, was->payload);
    ASSERT_TRUE(now_values.ok() && was_values.ok()) << t.desc.name;
    float largest = 0;
    for (float w : *was_values) largest = std::max(largest, std::abs(w));
    size_t kept = 0, moved = 0;
    for (size_t i = 0; i < now_values->size(); ++i) {
      if ((*now_values)[i] == 0.0f) continue;
      ++kept;
      moved += std::abs((*now_values)[i] - (*was_values)[i]) > largest / 254 * 1.0001f;
    }
    EXPECT_EQ(moved, 0u) << t.desc.name;
    EXPECT_NEAR(double(kept) / double(now_values->size()), 0.2, 0.02) << t.desc.name;
  }
  EXPECT_GE(bitmap_tensors, 7u);
}

}  // namespace
}  // namespace sparq::runtime
