// SparseGPT and GPTQ (runtime/convert/obs_compression.h) against what must hold whatever the
// implementation: with a diagonal Hessian no error crosses columns, so GPTQ is round to
// nearest and SparseGPT is magnitude pruning; with correlated inputs both beat those on the
// layer's output error; results are what sparq's q8/q4 encoders store. The end-to-end check
// against a PyTorch reference on debian-llama is models/train/check_obs_compression.py.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <random>
#include <vector>

#include "formats/encoding_spec.h"
#include "formats/tensor_codec.h"
#include "runtime/convert/compression_recipe.h"
#include "runtime/convert/magnitude_pruning.h"
#include "runtime/convert/obs_compression.h"

namespace {

using sparq::runtime::compress_with_hessian;
using sparq::runtime::ObsOptions;
using sparq::runtime::parse_prune_pattern;
using sparq::runtime::PruneTensor;
using sparq::runtime::QuantGrid;

struct Layer {
  size_t rows, cols;
  std::vector<float> w;
  std::vector<double> gram;  // XᵀX
};

// Inputs whose columns are correlated through a shared factor (as real activations are), or
// independent with equal variance (`correlated` false: XᵀX is then nearly c·I; `diagonal`
// makes it exactly so).
Layer make_layer(size_t rows, size_t cols, bool correlated, uint32_t seed, bool diagonal = false) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  Layer l{rows, cols, std::vector<float>(rows * cols), std::vector<double>(cols * cols, 0.0)};
  for (float& x : l.w) x = n(rng);
  if (diagonal) {
    for (size_t c = 0; c < cols; ++c) l.gram[c * cols + c] = 100.0;
    return l;
  }
  const size_t tokens = 4 * cols;
  std::vector<double> x(cols);
  for (size_t t = 0; t < tokens; ++t) {
    const double shared = n(rng);
    for (size_t c = 0; c < cols; ++c) x[c] = (correlated ? 0.9 * shared * (1.0 + double(c % 7) / 7) : 0.0) + n(rng);
    for (size_t i = 0; i < cols; ++i) {
      for (size_t j = 0; j < cols; ++j) l.gram[i * cols + j] += x[i] * x[j];
    }
  }
  return l;
}

// ‖(W' − W)X‖² from XᵀX.
double output_error(const Layer& l, const std::vector<float>& compressed) {
  double sum = 0;
  for (size_t r = 0; r < l.rows; ++r) {
    for (size_t i = 0; i < l.cols; ++i) {
      const double di = double(compressed[r * l.cols + i]) - l.w[r * l.cols + i];
      for (size_t j = 0; j < l.cols; ++j) {
        sum += di * l.gram[i * l.cols + j] * (double(compressed[r * l.cols + j]) - l.w[r * l.cols + j]);
      }
    }
  }
  return sum;
}

// Options and tensors built field by field (designated initializers that leave fields out
// warn under -Wextra).
ObsOptions options(std::optional<std::string> pattern, double sparsity, std::optional<QuantGrid> grid) {
  ObsOptions o;
  if (pattern) o.prune = *parse_prune_pattern(*pattern);
  o.sparsity = sparsity;
  o.grid = grid;
  return o;
}

PruneTensor tensor(const std::string& name, std::span<float> values, size_t rows, size_t cols) {
  PruneTensor t;
  t.name = name;
  t.values = values;
  t.rows = rows;
  t.cols = cols;
  return t;
}

std::vector<float> run(const Layer& l, std::vector<float> w, const ObsOptions& o) {
  const PruneTensor t = tensor("w", w, l.rows, l.cols);
  auto s = compress_with_hessian(t, l.gram, o);
  EXPECT_TRUE(s) << s.error().message();
  return w;
}

// What sparq's encoder stores for `w` in `spec` (e.g. "q4:g32"), decoded.
std::vector<float> encoded(const Layer& l, const std::vector<float>& w, const std::string& spec) {
  auto o = sparq::formats::parse_encode_options(spec);
  EXPECT_TRUE(o);
  auto t = sparq::formats::encode_tensor("w", {l.rows, l.cols}, w, *o);
  EXPECT_TRUE(t) << t.error().message();
  auto d = sparq::formats::decode_tensor(t->desc, t->payload);
  EXPECT_TRUE(d);
  return *d;
}

void expect_near_each(const std::vector<float>& got, const std::vector<float>& want, double rel) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], rel * std::fabs(want[i]) + 1e-12) << "entry " << i;
  }
}

TEST(Gptq, OutputIsWhatTheQ8AndQ4EncodersStore) {
  const Layer l = make_layer(12, 96, true, 1);
  for (auto [spec, grid] : {std::pair{"q4:g32", QuantGrid{7, 32}}, std::pair{"q8:g32", QuantGrid{127, 32}},
                            std::pair{"q8", QuantGrid{127, 0}}}) {
    const auto q = run(l, l.w, options({}, 0, grid));
    expect_near_each(encoded(l, q, spec), q, 1e-6);
  }
}

TEST(Gptq, WithADiagonalHessianIsRoundToNearest) {
  const Layer l = make_layer(8, 64, false, 2, /*diagonal=*/true);
  const auto q = run(l, l.w, options({}, 0, QuantGrid{7, 32}));
  expect_near_each(q, encoded(l, l.w, "q4:g32"), 1e-6);
}

TEST(Gptq, BeatsRoundToNearestOnCorrelatedInputsAndKeepsZeros) {
  Layer l = make_layer(16, 128, true, 3);
  for (size_t i = 0; i < l.w.size(); i += 3) l.w[i] = 0.0f;  // a mask from an earlier pruning
  for (auto [spec, grid] : {std::pair{"q4:g32", QuantGrid{7, 32}}, std::pair{"q8:g32", QuantGrid{127, 32}}}) {
    const auto q = run(l, l.w, options({}, 0, grid));
    for (size_t i = 0; i < l.w.size(); i += 3) ASSERT_EQ(q[i], 0.0f) << spec << " entry " << i;
    const double gptq = output_error(l, q), rtn = output_error(l, encoded(l, l.w, spec));
    EXPECT_LT(gptq, 0.8 * rtn) << spec;
  }
}

TEST(SparseGpt, WithADiagonalHessianIsMagnitudePruningPerBlock) {
  const Layer l = make_layer(8, 128, false, 4, /*diagonal=*/true);  // one block of 128 columns
  for (const char* pattern : {"unstructured", "2:4"}) {
    auto p = parse_prune_pattern(pattern);
    ASSERT_TRUE(p);
    const auto pruned = run(l, l.w, options(pattern, 0.5, {}));
    auto want = l.w;
    const PruneTensor t = tensor("w", want, l.rows, l.cols);
    ASSERT_TRUE(sparq::runtime::prune_by_magnitude(std::span(&t, 1), *p, 0.5));
    // Kept weights move by nothing: no error crosses columns.
    EXPECT_EQ(pruned, want) << pattern;
  }
}

TEST(SparseGpt, PrunesExactlyAndBeatsMagnitudeOnCorrelatedInputs) {
  const Layer l = make_layer(16, 256, true, 5);
  const auto un = run(l, l.w, options("unstructured", 0.7, {}));
  for (size_t b0 = 0; b0 < l.cols; b0 += 128) {
    size_t zeros = 0;
    for (size_t r = 0; r < l.rows; ++r) {
      for (size_t c = b0; c < b0 + 128; ++c) zeros += un[r * l.cols + c] == 0.0f;
    }
    EXPECT_EQ(zeros, size_t(std::llround(0.7 * 16 * 128))) << "block at column " << b0;
  }
  auto magnitude = l.w;
  const PruneTensor t = tensor("w", magnitude, l.rows, l.cols);
  ASSERT_TRUE(sparq::runtime::prune_by_magnitude(std::span(&t, 1), *parse_prune_pattern("unstructured"), 0.7));
  EXPECT_LT(output_error(l, un), 0.8 * output_error(l, magnitude));

  const auto nm = run(l, l.w, options("2:4", 0, QuantGrid{127, 32}));
  for (size_t g = 0; g < nm.size(); g += 4) {
    EXPECT_GE((nm[g] == 0.0f) + (nm[g + 1] == 0.0f) + (nm[g + 2] == 0.0f) + (nm[g + 3] == 0.0f), 2) << g;
  }
  expect_near_each(encoded(l, nm, "q8:g32"), nm, 1e-6);
}

TEST(SparseGpt, ZeroesColumnsThatSawNoInput) {
  Layer l = make_layer(4, 32, true, 6);
  for (size_t i = 0; i < l.cols; ++i) l.gram[5 * l.cols + i] = l.gram[i * l.cols + 5] = 0.0;
  const auto q = run(l, l.w, options({}, 0, QuantGrid{127, 32}));
  for (size_t r = 0; r < l.rows; ++r) EXPECT_EQ(q[r * l.cols + 5], 0.0f);
}

TEST(SparseGpt, RefusesWhatItCannotDo) {
  Layer l = make_layer(4, 30, true, 7);
  std::vector<float> w = l.w;
  const PruneTensor t = tensor("layers.0.ffn.up.weight", w, 4, 30);
  auto expect_error = [&](std::span<const double> gram, const ObsOptions& o, const std::string& part) {
    auto s = compress_with_hessian(t, gram, o);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message().find("tensor 'layers.0.ffn.up.weight'"), std::string::npos) << s.error().message();
    EXPECT_NE(s.error().message().find(part), std::string::npos) << s.error().message();
  };
  expect_error(l.gram, options("4x4", 0.5, {}), "not 4x4 blocks");
  expect_error(l.gram, options("2:4", 0, {}), "not a multiple of 4");
  expect_error(std::span(l.gram).first(20), ObsOptions{}, "XᵀX has 20 entries");
  l.gram[3] = std::nan("");
  expect_error(l.gram, ObsOptions{}, "non-finite");
}

TEST(CompressionRecipe, SparseGptAndGptqParseAndNeedACalibration) {
  const nlohmann::json rule = {{"match", "*"}, {"sparsity", 0.5}};
  auto r = sparq::runtime::recipe_from_json({{"method", "sparsegpt"}, {"quantization", "gptq"}, {"rules", {rule}}},
                                            "r.json");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->needs_grams());
  auto again = sparq::runtime::recipe_from_json(r->to_json(), "again");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->method, sparq::runtime::PruneMethod::sparsegpt);
  EXPECT_EQ(again->quantization, sparq::runtime::QuantizeMethod::gptq);
  for (auto [key, value] : {std::pair{"quantization", "awq"}, std::pair{"method", "obs"}}) {
    auto bad = sparq::runtime::recipe_from_json({{key, value}, {"rules", {rule}}}, "r.json");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find(std::string("r.json: ") + key + ":"), std::string::npos);
  }
  auto global = sparq::runtime::recipe_from_json({{"method", "sparsegpt"}, {"scope", "global"}, {"rules", {rule}}}, "r");
  ASSERT_FALSE(global);

  // Without a calibration run, and GPTQ onto an encoding without a grid.
  std::vector<float> w = make_layer(4, 32, true, 8).w;
  const std::vector<PruneTensor> tensors = {tensor("layers.0.ffn.up.weight", w, 4, 32)};
  const std::vector<int> rule_of = {0};
  std::vector<sparq::formats::EncodeOptions> stored_as(1);
  auto out = sparq::runtime::prune_with_recipe(*r, rule_of, tensors, stored_as);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message().find("needs a calibration run"), std::string::npos) << out.error().message();
  r->calibration.emplace();
  r->calibration->input_grams["layers.0.ffn.up.weight"] = make_layer(4, 32, true, 8).gram;
  out = sparq::runtime::prune_with_recipe(*r, rule_of, tensors, stored_as);
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message().find("rounds onto q8 or symmetric q4"), std::string::npos) << out.error().message();
  stored_as[0] = *sparq::formats::parse_encode_options("q4:g32");
  out = sparq::runtime::prune_with_recipe(*r, rule_of, tensors, stored_as);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_GE((*out)[0].sparsity, 0.5);
}

}  // namespace
