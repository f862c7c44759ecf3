// Shared helpers of the transformer-ops tests: random buffers, closeness checks that report
// the worst element, and the kernel families (ISAs) present on this machine.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/threading.h"
#include "kernels/transformer_ops.h"

namespace sparq::kernels::testing {

inline constexpr float kInf = std::numeric_limits<float>::infinity();

// One attention call's parameters and masks (empty: no padding / default query positions).
struct AttentionCase {
  AttentionParams p;
  std::vector<int32_t> kv_valid, q_pos;
};

inline std::vector<float> random_floats(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Every |actual - expected| <= abs_tol + rel_tol * |expected|, exact match for non-finite
// expected values; on failure reports the worst element.
template <class Expected>
void expect_close(const std::vector<float>& actual, const std::vector<Expected>& expected,
                  double rel_tol, double abs_tol, const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  double worst = 0;
  size_t worst_i = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double e = static_cast<double>(expected[i]);
    if (!std::isfinite(e)) {
      ASSERT_EQ(static_cast<double>(actual[i]), e) << what << " at " << i;
      continue;
    }
    const double excess = std::abs(actual[i] - e) - (abs_tol + rel_tol * std::abs(e));
    if (excess > worst || std::isnan(actual[i])) {
      worst = std::isnan(actual[i]) ? INFINITY : excess;
      worst_i = i;
    }
  }
  EXPECT_LE(worst, 0.0) << what << ": element " << worst_i << " is " << actual[worst_i]
                        << ", expected " << static_cast<double>(expected[worst_i]);
}

// The SIMD kernel families this CPU runs (avx2, avx512, neon), one per family.
inline std::vector<const TransformerOpsConfig*> simd_configs() {
  std::vector<const TransformerOpsConfig*> out;
  for (Isa isa : supported_isas(cpu_info().features)) {
    Result<const TransformerOpsConfig*> c = transformer_ops_config_for(isa);
    if (!c.ok() || (*c)->isa == Isa::ref) continue;
    bool seen = false;
    for (const TransformerOpsConfig* o : out) seen = seen || o == *c;
    if (!seen) out.push_back(*c);
  }
  return out;
}

class TransformerOpsTest {
 protected:
  TransformerOpsTest() { set_num_threads(0); }
  ~TransformerOpsTest() { set_num_threads(0); }
};

inline const TransformerOpsConfig& ref_config() {
  return *transformer_ops_config_for(Isa::ref).value();
}

}  // namespace sparq::kernels::testing
