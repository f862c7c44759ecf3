// Wanda pruning against a scalar reference written here from the paper: score every weight
// by |w_ij|·n_j, then per output row zero the round(sparsity·cols) lowest (stable: the earlier
// column first on a tie), or per group of M keep the N highest. The end-to-end check against
// PyTorch on debian-llama is models/train/check_wanda_pruning.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "runtime/convert/compression_recipe.h"
#include "runtime/convert/wanda_pruning.h"

namespace {

using sparq::runtime::parse_prune_pattern;
using sparq::runtime::prune_by_wanda;
using sparq::runtime::PruneTensor;

std::vector<float> random_values(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// The kept-mask of the reference: `group` columns compared together, `keep` of them kept.
std::vector<bool> reference_keep(const std::vector<float>& w, const std::vector<float>& norms, size_t cols,
                                 size_t group, size_t keep) {
  std::vector<bool> kept(w.size(), false);
  for (size_t start = 0; start < w.size(); start += group) {
    std::vector<size_t> order(group);
    std::iota(order.begin(), order.end(), 0);
    auto score = [&](size_t i) { return std::fabs(double(w[start + i])) * double(norms[(start + i) % cols]); };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score(a) < score(b); });
    for (size_t i = group - keep; i < group; ++i) kept[start + order[i]] = true;
  }
  return kept;
}

void expect_mask(const std::vector<float>& pruned, const std::vector<float>& original, const std::vector<bool>& keep) {
  for (size_t i = 0; i < pruned.size(); ++i) {
    ASSERT_EQ(pruned[i], keep[i] ? original[i] : 0.0f) << "entry " << i;
  }
}

TEST(WandaPruning, UnstructuredPrunesEachRowByWeightTimesInputNorm) {
  const size_t rows = 12, cols = 40;
  const std::vector<float> original = random_values(rows * cols, -1, 1, 1);
  // Input norms spanning two decades, so the ranking differs from magnitude's.
  const std::vector<float> norms = random_values(cols, 0.1f, 10.0f, 2);
  for (double sparsity : {0.25, 0.5, 0.7}) {
    std::vector<float> w = original;
    const PruneTensor t{.name = "w", .values = w, .rows = rows, .cols = cols, .input_norms = norms, .input_gram = {}};
    auto r = prune_by_wanda(std::span(&t, 1), *parse_prune_pattern("unstructured"), sparsity);
    ASSERT_TRUE(r) << r.error().message();
    const size_t pruned_per_row = size_t(std::llround(sparsity * cols));
    expect_mask(w, original, reference_keep(original, norms, cols, cols, cols - pruned_per_row));
    EXPECT_EQ(r->zeros, rows * pruned_per_row);
  }
}

TEST(WandaPruning, NOfMKeepsTheHighestScoresOfEachGroup) {
  const size_t rows = 6, cols = 32;
  const std::vector<float> original = random_values(rows * cols, -1, 1, 3);
  const std::vector<float> norms = random_values(cols, 0.1f, 10.0f, 4);
  for (const char* pattern : {"2:4", "4:8"}) {
    std::vector<float> w = original;
    const PruneTensor t{.name = "w", .values = w, .rows = rows, .cols = cols, .input_norms = norms, .input_gram = {}};
    auto p = parse_prune_pattern(pattern);
    ASSERT_TRUE(p);
    ASSERT_TRUE(prune_by_wanda(std::span(&t, 1), *p, 0.5));
    expect_mask(w, original, reference_keep(original, norms, cols, p->m, p->n));
  }
}

TEST(WandaPruning, TiesGoToTheEarlierColumn) {
  // Every score equal: the first half of each row goes.
  std::vector<float> w(2 * 8, 0.5f);
  const std::vector<float> norms(8, 2.0f);
  const PruneTensor t{.name = "w", .values = w, .rows = 2, .cols = 8, .input_norms = norms, .input_gram = {}};
  ASSERT_TRUE(prune_by_wanda(std::span(&t, 1), *parse_prune_pattern("unstructured"), 0.5));
  for (size_t r = 0; r < 2; ++r) {
    for (size_t c = 0; c < 8; ++c) EXPECT_EQ(w[r * 8 + c], c < 4 ? 0.0f : 0.5f) << r << "," << c;
  }
}

TEST(WandaPruning, RefusesTensorsWithoutOrWithWrongNorms) {
  std::vector<float> w(4 * 8, 1.0f);
  const PruneTensor none{.name = "layers.0.ffn.up.weight", .values = w, .rows = 4, .cols = 8, .input_norms = {}, .input_gram = {}};
  auto r = prune_by_wanda(std::span(&none, 1), *parse_prune_pattern("unstructured"), 0.5);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("layers.0.ffn.up.weight"), std::string::npos) << r.error().message();
  const std::vector<float> short_norms(7, 1.0f);
  const PruneTensor wrong{.name = "w", .values = w, .rows = 4, .cols = 8, .input_norms = short_norms, .input_gram = {}};
  r = prune_by_wanda(std::span(&wrong, 1), *parse_prune_pattern("2:4"), 0.5);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("7 input norms for 8"), std::string::npos) << r.error().message();
}

TEST(WandaPruning, RecipeMethodParsesAndRefusesGlobalScope) {
  const nlohmann::json rule = {{"match", "*"}, {"sparsity", 0.5}};
  auto r = sparq::runtime::recipe_from_json({{"method", "wanda"}, {"rules", {rule}}}, "r.json");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->method, sparq::runtime::PruneMethod::wanda);
  EXPECT_EQ(r->to_json()["method"], "wanda");
  auto global = sparq::runtime::recipe_from_json({{"method", "wanda"}, {"scope", "global"}, {"rules", {rule}}}, "r.json");
  ASSERT_FALSE(global);
  EXPECT_NE(global.error().message().find("r.json: scope:"), std::string::npos) << global.error().message();
  auto unknown = sparq::runtime::recipe_from_json({{"method", "optimal-brain-damage"}, {"rules", {rule}}}, "r.json");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("r.json: method:"), std::string::npos) << unknown.error().message();
}

}  // namespace
