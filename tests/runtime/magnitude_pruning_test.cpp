// One-shot magnitude pruning against a scalar reference written here from the definition:
// list every unit (entry or block) with its score, sort by (score, tensor, unit), zero the
// first round(sparsity * units); for N:M sort each group of M and keep the N largest.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>

#include "runtime/convert/magnitude_pruning.h"

namespace {

using sparq::runtime::parse_prune_pattern;
using sparq::runtime::prune_by_magnitude;
using sparq::runtime::PrunePattern;
using sparq::runtime::PruneTensor;

struct Matrix {
  std::string name;
  uint64_t rows, cols;
  std::vector<float> v;
  PruneTensor view() { return {name, v, rows, cols, {}, {}}; }
};

Matrix random_matrix(std::string name, uint64_t rows, uint64_t cols, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  Matrix m{std::move(name), rows, cols, std::vector<float>(rows * cols)};
  for (float& x : m.v) x = d(rng);
  return m;
}

// Reference: block (br x bc) of every matrix, scored by sqrt(mean of squares).
std::vector<Matrix> reference_prune(std::vector<Matrix> ms, uint64_t br, uint64_t bc, double sparsity) {
  std::vector<std::tuple<double, size_t, uint64_t>> units;  // score, tensor, unit
  for (size_t t = 0; t < ms.size(); ++t) {
    const Matrix& m = ms[t];
    for (uint64_t r0 = 0, u = 0; r0 < m.rows; r0 += br) {
      for (uint64_t c0 = 0; c0 < m.cols; c0 += bc, ++u) {
        double ss = 0;
        for (uint64_t r = r0; r < r0 + br; ++r) {
          for (uint64_t c = c0; c < c0 + bc; ++c) ss += double(m.v[r * m.cols + c]) * m.v[r * m.cols + c];
        }
        units.emplace_back(br * bc == 1 ? std::fabs(double(m.v[r0 * m.cols + c0])) : std::sqrt(ss / double(br * bc)),
                           t, u);
      }
    }
  }
  std::sort(units.begin(), units.end());
  const size_t k = static_cast<size_t>(std::llround(sparsity * double(units.size())));
  for (size_t i = 0; i < k; ++i) {
    auto [score, t, u] = units[i];
    Matrix& m = ms[t];
    const uint64_t per_row = m.cols / bc, r0 = u / per_row * br, c0 = u % per_row * bc;
    for (uint64_t r = r0; r < r0 + br; ++r) {
      for (uint64_t c = c0; c < c0 + bc; ++c) m.v[r * m.cols + c] = 0.0f;
    }
  }
  return ms;
}

size_t zeros(const std::vector<float>& v) { return static_cast<size_t>(std::count(v.begin(), v.end(), 0.0f)); }

TEST(MagnitudePruning, UnstructuredPerTensorMatchesSortedReferenceWithExactCount) {
  for (double s : {0.0, 0.3, 0.5, 0.9, 0.97, 1.0}) {
    Matrix m = random_matrix("w", 24, 40, 1.0f, 7);
    std::vector<Matrix> want = reference_prune({m}, 1, 1, s);
    PruneTensor t = m.view();
    auto r = prune_by_magnitude({&t, 1}, PrunePattern{}, s);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(m.v, want[0].v) << "sparsity " << s;
    EXPECT_EQ(zeros(m.v), static_cast<size_t>(std::llround(s * 960))) << "sparsity " << s;
    EXPECT_EQ(r->zeros, zeros(m.v));
    // Every kept entry is at least as large as every pruned one.
    Matrix orig = random_matrix("w", 24, 40, 1.0f, 7);
    float max_pruned = 0, min_kept = INFINITY;
    for (size_t i = 0; i < m.v.size(); ++i) {
      if (m.v[i] == 0) max_pruned = std::max(max_pruned, std::fabs(orig.v[i]));
      else min_kept = std::min(min_kept, std::fabs(orig.v[i]));
    }
    if (s > 0 && s < 1) {
      EXPECT_LE(max_pruned, min_kept);
    }
  }
}

TEST(MagnitudePruning, TiesArePrunedInRowMajorOrder) {
  Matrix m{"ties", 2, 4, {1, 1, 1, 1, 1, 1, 1, 1}};
  PruneTensor t = m.view();
  auto r = prune_by_magnitude({&t, 1}, PrunePattern{}, 0.375);  // 3 of 8
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(m.v, (std::vector<float>{0, 0, 0, 1, 1, 1, 1, 1}));
}

TEST(MagnitudePruning, EveryKernelBlockShapeMatchesReferenceAndKeepsWholeBlocks) {
  for (auto [br, bc] : sparq::runtime::kSupportedBlocks) {
    const std::string shape = std::to_string(br) + "x" + std::to_string(bc);
    auto p = parse_prune_pattern(shape);
    ASSERT_TRUE(p.ok()) << shape;
    Matrix m = random_matrix("w", 32, 48, 1.0f, 11 + br * 16 + bc);
    const Matrix orig = m;
    std::vector<Matrix> want = reference_prune({m}, br, bc, 0.8);
    PruneTensor t = m.view();
    auto r = prune_by_magnitude({&t, 1}, *p, 0.8);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(m.v, want[0].v) << shape;
    const uint64_t blocks = (32 / br) * (48 / bc);
    EXPECT_EQ(zeros(m.v), std::llround(0.8 * double(blocks)) * br * bc) << shape;
    for (uint64_t r0 = 0; r0 < 32; r0 += br) {
      for (uint64_t c0 = 0; c0 < 48; c0 += bc) {
        size_t z = 0, same = 0;
        for (uint64_t rr = r0; rr < r0 + br; ++rr) {
          for (uint64_t c = c0; c < c0 + bc; ++c) {
            z += m.v[rr * 48 + c] == 0.0f;
            same += m.v[rr * 48 + c] == orig.v[rr * 48 + c];
          }
        }
        ASSERT_TRUE(z == br * bc || same == br * bc) << shape << " block at " << r0 << "," << c0;
      }
    }
  }
}

TEST(MagnitudePruning, TwoOfFourKeepsTheTwoLargestOfEveryFourInputs) {
  Matrix m = random_matrix("w", 8, 32, 1.0f, 5);
  const Matrix orig = m;
  auto p = parse_prune_pattern("2:4");
  ASSERT_TRUE(p.ok());
  EXPECT_DOUBLE_EQ(p->fixed_sparsity(), 0.5);
  PruneTensor t = m.view();
  auto r = prune_by_magnitude({&t, 1}, *p, 0.0);  // N:M ignores the target
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(zeros(m.v), m.v.size() / 2);
  for (size_t g = 0; g < m.v.size(); g += 4) {
    std::vector<std::pair<float, size_t>> mags;
    for (size_t i = g; i < g + 4; ++i) mags.push_back({std::fabs(orig.v[i]), i});
    std::sort(mags.begin(), mags.end(), [](auto a, auto b) { return a.first > b.first; });
    for (size_t j = 0; j < 4; ++j) {
      const size_t i = mags[j].second;
      EXPECT_EQ(m.v[i], j < 2 ? orig.v[i] : 0.0f) << "group " << g / 4;
    }
  }
}

TEST(MagnitudePruning, GlobalThresholdRanksAllTensorsTogether) {
  // Three tensors on different scales: a global threshold prunes the small one hardest.
  std::vector<Matrix> ms = {random_matrix("a", 16, 16, 0.1f, 1), random_matrix("b", 8, 32, 1.0f, 2),
                            random_matrix("c", 32, 8, 3.0f, 3)};
  for (auto [br, bc] : {std::pair<uint32_t, uint32_t>{1, 1}, {4, 4}}) {
    std::vector<Matrix> work = ms;
    std::vector<Matrix> want = reference_prune(ms, br, bc, 0.6);
    std::vector<PruneTensor> views;
    for (Matrix& m : work) views.push_back(m.view());
    PrunePattern p;
    if (br > 1) p = *parse_prune_pattern("4x4");
    auto r = prune_by_magnitude(views, p, 0.6);
    ASSERT_TRUE(r.ok()) << r.error().message();
    size_t total_zeros = 0;
    float max_pruned = 0, min_kept = INFINITY;
    for (size_t t = 0; t < ms.size(); ++t) {
      EXPECT_EQ(work[t].v, want[t].v) << ms[t].name;
      total_zeros += zeros(work[t].v);
      if (br == 1) {
        for (size_t i = 0; i < ms[t].v.size(); ++i) {
          if (work[t].v[i] == 0) max_pruned = std::max(max_pruned, std::fabs(ms[t].v[i]));
          else min_kept = std::min(min_kept, std::fabs(ms[t].v[i]));
        }
      }
    }
    EXPECT_EQ(total_zeros, static_cast<size_t>(std::llround(0.6 * 768 / (br * bc))) * br * bc);
    if (br == 1) {
      EXPECT_LE(max_pruned, min_kept);  // one threshold across tensors
    }
    EXPECT_GT(zeros(work[0].v), zeros(work[2].v));
  }
}

TEST(MagnitudePruning, RefusesBadPatternsShapesAndSparsities) {
  for (const char* bad : {"3x3", "2x2", "4:4", "0:4", "2:64", "blocky", "4x", ""}) {
    EXPECT_FALSE(parse_prune_pattern(bad).ok()) << bad;
  }
  EXPECT_EQ(parse_prune_pattern("16x1")->to_string(), "16x1");
  EXPECT_EQ(parse_prune_pattern("1:4")->to_string(), "1:4");
  Matrix m = random_matrix("odd", 6, 10, 1.0f, 9);
  PruneTensor t = m.view();
  auto block = prune_by_magnitude({&t, 1}, *parse_prune_pattern("4x4"), 0.5);
  ASSERT_FALSE(block.ok());
  EXPECT_NE(block.error().message().find("'odd'"), std::string::npos) << block.error().message();
  EXPECT_FALSE(prune_by_magnitude({&t, 1}, *parse_prune_pattern("2:4"), 0.5).ok());
  EXPECT_FALSE(prune_by_magnitude({&t, 1}, PrunePattern{}, 1.5).ok());
  EXPECT_FALSE(prune_by_magnitude({&t, 1}, PrunePattern{}, std::nan("")).ok());
}

}  // namespace
