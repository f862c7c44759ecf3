// Attention with int8 products (TransformerOpsConfig::attention_int8) against attention in
// double on the same quantized Q, K and V, quantized here by the q8 definition
// (transformer_ops.h). What is left is the rounding of the softmax weights to u8, bounded per
// output value: each key's weight p_j·sv_j moves by at most half a step (its key block's
// largest / 255) times |n_j| <= 127 of its int8 value, over the row's sum of weights l.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/attention_tasks.h"
#include "kernels/cpu_features.h"
#include "kernels/isa.h"
#include "kernels/transformer_ops.h"
#include "tests/kernels/transformer_ops_testing.h"

namespace sparq::kernels {
namespace {

using testing::random_floats;

struct Int8Case {
  AttentionParams p;
  std::vector<int32_t> kv_valid;
};

std::vector<Int8Case> int8_cases() {
  std::vector<Int8Case> out;
  // The encoder's shapes: padding only, one call per sequence as the encoder makes them.
  for (size_t hd : {64, 7, 33, 80})
    out.push_back({{.batch = 2, .q_len = 70, .kv_len = 70, .n_heads = 4, .n_kv_heads = 4,
                    .head_dim = hd}, {70, 37}});
  // Grouped-query prefill with the causal mask, and a key count that is no multiple of 4.
  out.push_back({{.batch = 2, .q_len = 19, .kv_len = 131, .n_heads = 8, .n_kv_heads = 2,
                  .head_dim = 64, .causal = true}, {131, 5}});
  return out;
}

// Per vector of hd values: n = round(x · 127 / max|x|), the scale max|x| / 127.
std::vector<double> q8_values(const std::vector<float>& x, size_t hd) {
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); i += hd) {
    float m = 0;
    for (size_t d = 0; d < hd; ++d) m = std::max(m, std::abs(x[i + d]));
    for (size_t d = 0; d < hd; ++d)
      out[i + d] = m == 0 ? 0 : double(std::nearbyint(x[i + d] * (127.0f / m))) * (m / 127.0f);
  }
  return out;
}

struct Int8Expected {
  std::vector<double> out, bound;
};

// Attention in double on the quantized values, and each output value's bound (see the top).
Int8Expected int8_expected(const Int8Case& c, const std::vector<double>& q, const std::vector<double>& k,
                  const std::vector<double>& v, const std::vector<double>& v_scale) {
  const AttentionParams& p = c.p;
  const size_t hd = p.head_dim, group = p.n_heads / p.n_kv_heads;
  const double scale = 1 / std::sqrt(double(hd));
  Int8Expected e{std::vector<double>(q.size(), 0.0), std::vector<double>(q.size(), 0.0)};
  for (size_t b = 0; b < p.batch; ++b)
    for (size_t i = 0; i < p.q_len; ++i)
      for (size_t h = 0; h < p.n_heads; ++h) {
        const size_t kvh = h / group;
        const int64_t pos = int64_t(p.kv_len - p.q_len + i);
        size_t keys = size_t(c.kv_valid[b]);
        if (p.causal) keys = std::min<size_t>(keys, size_t(std::max<int64_t>(pos + 1, 0)));
        const double* qr = &q[((b * p.q_len + i) * p.n_heads + h) * hd];
        std::vector<double> w(keys);
        double max = -INFINITY;
        for (size_t j = 0; j < keys; ++j) {
          double dot = 0;
          for (size_t d = 0; d < hd; ++d) dot += qr[d] * k[((b * p.kv_len + j) * p.n_kv_heads + kvh) * hd + d];
          max = std::max(max, w[j] = dot * scale);
        }
        double l = 0;
        for (double& x : w) l += x = std::exp(x - max);
        double step_sum = 0;  // sum over key blocks of keys x (largest weight · sv) / 2 / 255 · 127
        for (size_t j0 = 0; j0 < keys; j0 += 64) {
          double largest = 0;
          for (size_t j = j0; j < std::min(keys, j0 + 64); ++j)
            largest = std::max(largest, w[j] * v_scale[(b * p.kv_len + j) * p.n_kv_heads + kvh]);
          step_sum += double(std::min<size_t>(64, keys - j0)) * largest * 0.5 / 255 * 127;
        }
        double* o = &e.out[((b * p.q_len + i) * p.n_heads + h) * hd];
        double* bound = &e.bound[((b * p.q_len + i) * p.n_heads + h) * hd];
        for (size_t j = 0; j < keys; ++j)
          for (size_t d = 0; d < hd; ++d) o[d] += w[j] / l * v[((b * p.kv_len + j) * p.n_kv_heads + kvh) * hd + d];
        for (size_t d = 0; d < hd; ++d) bound[d] = keys ? step_sum / l + 1e-5 : 0;
      }
  return e;
}

std::vector<const TransformerOpsConfig*> int8_configs() {
  std::vector<const TransformerOpsConfig*> out;
  for (const TransformerOpsConfig* c : testing::simd_configs())
    if (c->attention_int8) out.push_back(c);
  return out;
}

void run_attention(const TransformerOpsConfig& ops, bool int8, const AttentionParams& p, const float* q,
         const float* k, const float* v, const std::vector<int32_t>& kv_valid, float* out) {
  AttentionParams r = p;
  r.kv_capacity = p.kv_len;
  r.scale = 1 / std::sqrt(float(p.head_dim));
  r.q_stride = p.n_heads * p.head_dim;
  r.kv_stride = p.n_kv_heads * p.head_dim;
  (int8 ? ops.attention_int8 : ops.attention)(r, q, k, v, kv_valid.data(), nullptr, out, 0,
                                              attention_task_count(r));
}

TEST(AttentionInt8Config, VnniFamiliesHaveIt) {
  const bool vnni = cpu_info().features.avx512vnni;
  Result<const TransformerOpsConfig*> c = transformer_ops_config_for(Isa::avx512vnni);
  ASSERT_EQ(c.ok(), vnni);
  if (vnni) {
    EXPECT_NE((*c)->attention_int8, nullptr);
  }
  // Families without int8 dot products leave it to the caller to use `attention`.
  EXPECT_EQ(testing::ref_config().attention_int8, nullptr);
}

class AttentionInt8 : public ::testing::TestWithParam<const TransformerOpsConfig*>,
                      testing::TransformerOpsTest {};

TEST_P(AttentionInt8, WithinTheWeightRoundingOfAttentionOnQuantizedValues) {
  const TransformerOpsConfig& ops = *GetParam();
  for (const Int8Case& c : int8_cases()) {
    const AttentionParams& p = c.p;
    const size_t hd = p.head_dim;
    const auto q = random_floats(p.batch * p.q_len * p.n_heads * hd, -1, 1, uint32_t(hd));
    auto k = random_floats(p.batch * p.kv_len * p.n_kv_heads * hd, -1, 1, uint32_t(hd + 1));
    const auto v = random_floats(k.size(), -1, 1, uint32_t(hd + 2));
    for (size_t i = 0; i < k.size(); i += 7) k[i] *= 6;  // some peaked rows
    std::vector<double> v_scale(v.size() / hd);
    for (size_t i = 0; i < v_scale.size(); ++i) {
      float m = 0;
      for (size_t d = 0; d < hd; ++d) m = std::max(m, std::abs(v[i * hd + d]));
      v_scale[i] = m / 127.0f;
    }
    const Int8Expected want = int8_expected(c, q8_values(q, hd), q8_values(k, hd), q8_values(v, hd), v_scale);
    std::vector<float> got(q.size(), 7.0f), f32(q.size(), 7.0f);
    run_attention(ops, true, p, q.data(), k.data(), v.data(), c.kv_valid, got.data());
    run_attention(ops, false, p, q.data(), k.data(), v.data(), c.kv_valid, f32.data());
    double worst = 0, rms = 0;
    size_t failures = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const double err = std::abs(got[i] - want.out[i]);
      if (!(err <= want.bound[i]) && failures++ < 5)
        ADD_FAILURE() << ops.name << " hd " << hd << " causal " << p.causal << " value " << i
                      << ": " << got[i] << " vs " << want.out[i] << ", bound " << want.bound[i];
      worst = std::max(worst, err / std::max(want.bound[i], 1e-12));
      rms += (got[i] - f32[i]) * (got[i] - f32[i]);
    }
    // How far int8 products land from f32 attention on these |x| <= 1 inputs (reported).
    RecordProperty("hd" + std::to_string(hd) + (p.causal ? "_causal" : "") + "_rms_vs_f32",
                   ::testing::PrintToString(std::sqrt(rms / double(got.size()))));
    RecordProperty("hd" + std::to_string(hd) + (p.causal ? "_causal" : "") + "_worst_of_bound",
                   ::testing::PrintToString(worst));
  }
}

// Q, K and V read in place from an encoder's fused [tokens, Q | K | V] rows (one spare column
// between rows) give bit for bit what the packed copies give.
TEST_P(AttentionInt8, ReadsStridedQkvRowsLikePackedOnes) {
  const TransformerOpsConfig& ops = *GetParam();
  AttentionParams p{.batch = 2, .q_len = 70, .kv_len = 70, .n_heads = 4, .n_kv_heads = 4, .head_dim = 64};
  const std::vector<int32_t> kv_valid = {70, 37};
  const size_t w = p.n_heads * p.head_dim, tokens = p.batch * p.q_len, stride = 3 * w + 1;
  const auto q = random_floats(tokens * w, -1, 1, 4), k = random_floats(tokens * w, -1, 1, 5),
             v = random_floats(tokens * w, -1, 1, 6);
  std::vector<float> fused(tokens * stride, 9.0f);
  for (size_t t = 0; t < tokens; ++t) {
    std::copy_n(q.data() + t * w, w, fused.data() + t * stride);
    std::copy_n(k.data() + t * w, w, fused.data() + t * stride + w);
    std::copy_n(v.data() + t * w, w, fused.data() + t * stride + 2 * w);
  }
  std::vector<float> packed(q.size(), 7.0f), strided(q.size(), 5.0f);
  run_attention(ops, true, p, q.data(), k.data(), v.data(), kv_valid, packed.data());
  AttentionParams r = p;
  r.kv_capacity = p.kv_len;
  r.scale = 1 / std::sqrt(float(p.head_dim));
  r.q_stride = r.kv_stride = stride;
  ops.attention_int8(r, fused.data(), fused.data() + w, fused.data() + 2 * w, kv_valid.data(), nullptr,
                     strided.data(), 0, attention_task_count(r));
  EXPECT_EQ(std::memcmp(packed.data(), strided.data(), packed.size() * sizeof(float)), 0);
}

// A head whose quantized K and V would not fit the cache runs the f32 kernel: bit for bit
// what `attention` gives.
TEST_P(AttentionInt8, LongHeadsRunTheF32Kernel) {
  const TransformerOpsConfig& ops = *GetParam();
  const Int8Case c{{.batch = 1, .q_len = 20, .kv_len = 600, .n_heads = 2, .n_kv_heads = 2, .head_dim = 256},
               {600}};
  const auto q = random_floats(c.p.q_len * 2 * 256, -1, 1, 1);
  const auto k = random_floats(c.p.kv_len * 2 * 256, -1, 1, 2);
  const auto v = random_floats(k.size(), -1, 1, 3);
  std::vector<float> got(q.size(), 7.0f), f32(q.size(), 5.0f);
  run_attention(ops, true, c.p, q.data(), k.data(), v.data(), c.kv_valid, got.data());
  run_attention(ops, false, c.p, q.data(), k.data(), v.data(), c.kv_valid, f32.data());
  EXPECT_EQ(std::memcmp(got.data(), f32.data(), got.size() * sizeof(float)), 0);
}

INSTANTIATE_TEST_SUITE_P(Isa, AttentionInt8, ::testing::ValuesIn(int8_configs()),
                         [](const auto& info) { return std::string(info.param->name); });
// A CPU without VNNI has no int8 attention to compare (AttentionInt8Config checks that).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(AttentionInt8);

}  // namespace
}  // namespace sparq::kernels
