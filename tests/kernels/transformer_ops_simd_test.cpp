// Every SIMD transformer-ops family on this machine (avx2, avx512 natively; neon under qemu)
// against the scalar reference (itself checked against double formulas in
// transformer_ops_ref_test.cpp), over ragged sizes, masks and GQA ratios; the vector exp and
// the activations' approximation errors measured against std:: functions in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/attention_tasks.h"
#include "kernels/threading.h"
#include "tests/kernels/transformer_ops_testing.h"

namespace sparq::kernels {
namespace {

using testing::expect_close;
using testing::random_floats;
using testing::ref_config;

using testing::AttentionCase;
using testing::kInf;
const size_t kRaggedSizes[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 100, 257, 1000};

class TransformerOpsSimd : public ::testing::TestWithParam<const TransformerOpsConfig*>,
                          testing::TransformerOpsTest {
 protected:
  const TransformerOpsConfig& ops() const { return *GetParam(); }
  std::string name() const { return ops().name; }
};

// Distance from the exact value in units of the f32 ulp at that value.
double ulp_error(float got, double exact) {
  if (exact == 0) return got == 0 ? 0 : INFINITY;
  int e;
  std::frexp(exact, &e);
  const double ulp = std::ldexp(1.0, std::max(e - 24, -149));
  return std::abs(got - exact) / ulp;
}

// The vector exp: at most 1 ulp (measured 0.88) on [-87.33, 88.72] (the normal range of the result); 0 below,
// +inf above, exp(-inf) = 0 for masked softmax entries.
TEST_P(TransformerOpsSimd, ExpMaxErrorWithin1Ulp) {
  std::vector<float> x;
  for (int i = 0; i <= 200000; ++i) x.push_back(-87.33f + (88.72f + 87.33f) * i / 200000.0f);
  x.insert(x.end(), {0.0f, -0.0f, 1e-8f, -1e-8f, 0.34657359f, -0.34657359f, 88.72f});
  std::vector<float> y(x.size());
  ops().exp(x.size(), x.data(), y.data());
  double worst = 0;
  float worst_x = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double e = ulp_error(y[i], std::exp(double{x[i]}));
    if (e > worst) worst = e, worst_x = x[i];
  }
  RecordProperty("exp_max_ulp", ::testing::PrintToString(worst));
  EXPECT_LE(worst, 1.0) << name() << " exp worst at x=" << worst_x;
  const std::vector<float> special = {-kInf, -1000.0f, -87.5f, 89.0f, 1000.0f, kInf};
  std::vector<float> ys(special.size());
  ops().exp(special.size(), special.data(), ys.data());
  EXPECT_EQ(ys, (std::vector<float>{0, 0, 0, kInf, kInf, kInf})) << name();
}

// Error of f against the double formula `want` over [lo, hi], relative to the result (or, with
// `per_unit_x`, to |x|: an absolute error that may grow with the argument); returns the worst.
template <class Want>
double max_rel_error(void (*f)(size_t, const float*, float*), float lo, float hi, Want want,
                     float* worst_x, bool per_unit_x = false) {
  std::vector<float> x;
  for (int i = 0; i <= 100000; ++i) x.push_back(lo + (hi - lo) * i / 100000.0f);
  std::vector<float> y(x.size());
  f(x.size(), x.data(), y.data());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double w = want(double{x[i]});
    // Results within a factor ~100 of FLT_MIN lose their relative precision (exp's argument
    // leaves the f32 range first): relative error above 1e-30, absolute below.
    const double unit = per_unit_x ? std::abs(double{x[i]}) : std::abs(w);
    const double e = std::abs(y[i] - w) / std::max(unit, 1e-30);
    if (e > worst) worst = e, *worst_x = x[i];
  }
  return worst;
}

// Measured maxima (against double std:: formulas; x86 AVX2/AVX-512): gelu_erf 1.7e-7 |x|
// absolute (its rational erf trades the negative tail's relative accuracy for speed), silu
// 1.4e-7 relative, gelu_tanh 1.8e-6 (9.5e-6 in the tail); bounds with ~1.5x headroom.
constexpr double kGeluErfErrorPerUnitX = 2.5e-7;
TEST_P(TransformerOpsSimd, ActivationApproximationErrors) {
  float at = 0;
  const double gelu_erf_err = max_rel_error(
      ops().gelu_erf, -12.0f, 12.0f,
      [](double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }, &at, true);
  RecordProperty("gelu_erf_max_error_per_unit_x", ::testing::PrintToString(gelu_erf_err));
  EXPECT_LE(gelu_erf_err, kGeluErfErrorPerUnitX) << name() << " gelu_erf worst at x=" << at;
  // gelu_tanh's argument 2u = x (c1 + c3 x^2) is rounded in f32 (~1.5 ulp), which exp turns
  // into a relative error of ~|2u| * 1e-7: small where the function matters, up to ~1e-5 in
  // the far negative tail where |gelu| < 1e-13.
  const auto gelu_tanh_double = [](double x) {
    const double u = std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x);
    return x / (1 + std::exp(-2 * u));  // = 0.5 x (1 + tanh u), exact in double's tail too
  };
  const double gelu_tanh_core = max_rel_error(ops().gelu_tanh, -5.0f, 12.0f, gelu_tanh_double, &at);
  RecordProperty("gelu_tanh_max_rel_core", ::testing::PrintToString(gelu_tanh_core));
  EXPECT_LE(gelu_tanh_core, 3e-6) << name() << " gelu_tanh worst at x=" << at;
  const double gelu_tanh_tail = max_rel_error(ops().gelu_tanh, -12.0f, -5.0f, gelu_tanh_double, &at);
  RecordProperty("gelu_tanh_max_rel_tail", ::testing::PrintToString(gelu_tanh_tail));
  EXPECT_LE(gelu_tanh_tail, 1.5e-5) << name() << " gelu_tanh worst at x=" << at;
  const double silu_err = max_rel_error(
      ops().silu, -80.0f, 80.0f, [](double x) { return x / (1 + std::exp(-x)); }, &at);
  RecordProperty("silu_max_rel", ::testing::PrintToString(silu_err));
  EXPECT_LE(silu_err, 3e-7) << name() << " silu worst at x=" << at;
}

TEST_P(TransformerOpsSimd, ActivationsMatchRefOnRaggedSizes) {
  for (size_t n : kRaggedSizes) {
    constexpr float kMaxAbsX = 10.0f;
    std::vector<float> x = random_floats(n, -kMaxAbsX, kMaxAbsX, 100 + n);
    std::vector<float> got(n), want(n);
    using Fn = void (*)(size_t, const float*, float*);
    // The approximation bounds above plus the ref's own rounding; 1e-30 for the far tail, and
    // gelu_erf's absolute bound at the largest |x|.
    const struct {
      Fn simd, ref;
      double rel, abs;
      const char* what;
    } pairs[] = {{ops().gelu_erf, ref_config().gelu_erf, 2.5e-6, kGeluErfErrorPerUnitX * kMaxAbsX,
                  "gelu_erf"},
                 {ops().gelu_tanh, ref_config().gelu_tanh, 1.5e-5, 1e-30, "gelu_tanh"},
                 {ops().silu, ref_config().silu, 1.5e-6, 1e-30, "silu"}};
    for (const auto& f : pairs) {
      f.simd(n, x.data(), got.data());
      f.ref(n, x.data(), want.data());
      expect_close(got, want, f.rel, f.abs, name() + " " + f.what + " n=" + std::to_string(n));
    }
    std::vector<float> up = random_floats(n, -2.0f, 2.0f, 200 + n);
    ops().swiglu(1, n, x.data(), n, up.data(), n, got.data(), n);
    ref_config().swiglu(1, n, x.data(), n, up.data(), n, want.data(), n);
    expect_close(got, want, 2e-6, 1e-30, name() + " swiglu n=" + std::to_string(n));
  }
}

TEST_P(TransformerOpsSimd, NormsMatchRefOnRaggedSizes) {
  for (size_t n : kRaggedSizes) {
    const size_t rows = 3, stride = n + 3;
    std::vector<float> x = random_floats(rows * stride, -4.0f, 6.0f, 300 + n);
    std::vector<float> gamma = random_floats(n, 0.5f, 1.5f, 301 + n);
    std::vector<float> beta = random_floats(n, -1.0f, 1.0f, 302 + n);
    std::vector<float> got(rows * stride, 0.0f), want(rows * stride, 0.0f);
    // f32 accumulation over n terms in vector lanes vs the ref's double: ~sqrt(n) ulp typical,
    // bounded here by 1e-6 relative plus 1e-6 absolute for outputs near 0.
    ops().layernorm(rows, n, x.data(), stride, gamma.data(), beta.data(), 1e-5f, got.data(), stride);
    ref_config().layernorm(rows, n, x.data(), stride, gamma.data(), beta.data(), 1e-5f, want.data(),
                           stride);
    expect_close(got, want, 1e-6, 1e-6, name() + " layernorm n=" + std::to_string(n));
    ops().rmsnorm(rows, n, x.data(), stride, gamma.data(), 1e-6f, got.data(), stride);
    ref_config().rmsnorm(rows, n, x.data(), stride, gamma.data(), 1e-6f, want.data(), stride);
    expect_close(got, want, 1e-6, 1e-7, name() + " rmsnorm n=" + std::to_string(n));
  }
}

TEST_P(TransformerOpsSimd, SoftmaxMatchesRefWithMasksAndExtremes) {
  for (size_t n : kRaggedSizes) {
    const size_t rows = 5;
    std::vector<float> x = random_floats(rows * n, -30.0f, 30.0f, 400 + n);
    for (size_t i = 0; i < n; ++i) {
      if (i % 3 == 1) x[i] = -kInf;                      // row 0: every third entry masked
      if (i != n / 2) x[n + i] = -kInf;                  // row 1: all masked but one
      x[2 * n + i] = -kInf;                              // row 2: fully masked
      x[3 * n + i] = x[3 * n + i] * 1e3f + (i % 2 ? 3e38f : -3e38f);  // huge magnitudes
    }
    std::vector<float> got(rows * n, 9.0f), want(rows * n, 9.0f);
    ops().softmax(rows, n, x.data(), n, got.data(), n);
    ref_config().softmax(rows, n, x.data(), n, want.data(), n);
    // exp(x - max) with x - max rounded in f32 (the ref subtracts in double): relative error
    // up to |x - max| * 2^-24 (|x - max| <= 60 here) plus 2 ulp of exp and the normalisation.
    expect_close(got, want, 60 * 6e-8 + 5e-7, 1e-37, name() + " softmax n=" + std::to_string(n));
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(got[2 * n + i], 0.0f) << name() << " fully masked row";
      if (i % 3 == 1) {
        EXPECT_EQ(got[i], 0.0f) << name() << " masked entry";
      }
    }
    EXPECT_EQ(got[n + n / 2], 1.0f) << name() << " the one unmasked entry";
  }
}

// ---- Attention -------------------------------------------------------------------------


std::vector<AttentionCase> simd_attention_cases() {
  std::vector<AttentionCase> cases;
  // GQA ratios 1/2/4/8 x head_dims with ragged tails, decode and prefill, both masks.
  for (size_t ratio : {1, 2, 4, 8})
    for (size_t hd : {1, 7, 33, 64, 80}) {
      // decode: q_len 1 against a cache; one sequence fully masked, one with a single key
      cases.push_back({{.batch = 4, .q_len = 1, .kv_len = 131, .kv_capacity = 140, .n_heads = 8,
                        .n_kv_heads = 8 / ratio, .head_dim = hd, .causal = true},
                       {131, 0, 1, 65}, {130, 0, 0, 64}});
      // prefill across query and key blocks, bottom-right causal, right-padded sequence
      cases.push_back({{.batch = 2, .q_len = 19, .kv_len = 70, .n_heads = 8,
                        .n_kv_heads = 8 / ratio, .head_dim = hd, .causal = true},
                       {70, 40}, {}});
    }
  // Prefill against keys too many to keep transposed across tasks (kCachedKeyFloats).
  cases.push_back({{.batch = 2, .q_len = 40, .kv_len = 1100, .n_heads = 4, .n_kv_heads = 2,
                    .head_dim = 64, .causal = true},
                   {1100, 700}, {}});
  // Encoder: no causal mask, padding only, large scores (scale 1, |q.k| up to ~1e3).
  cases.push_back({{.batch = 2, .q_len = 33, .kv_len = 33, .n_heads = 12, .n_kv_heads = 12,
                    .head_dim = 64, .scale = 1.0f}, {33, 17}, {}});
  return cases;
}

// One attention case's random Q, K and V (queries scaled up in the large-score case) and
// how failures name it.
struct AttentionInputs {
  std::vector<float> q, k, v;
  std::string what;
};

AttentionInputs attention_inputs(const AttentionParams& p, const std::string& isa) {
  const size_t cap = p.kv_capacity ? p.kv_capacity : p.kv_len;
  const uint32_t seed = static_cast<uint32_t>(p.head_dim * 7 + p.n_kv_heads + p.q_len);
  AttentionInputs in;
  in.q = random_floats(p.batch * p.q_len * p.n_heads * p.head_dim, -1, 1, seed);
  in.k = random_floats(p.batch * cap * p.n_kv_heads * p.head_dim, -1, 1, seed + 1);
  in.v = random_floats(in.k.size(), -1, 1, seed + 2);
  if (p.scale == 1.0f)
    for (float& e : in.q) e *= 8;
  in.what = isa + " attention hd=" + std::to_string(p.head_dim) + " heads " + std::to_string(p.n_heads) + "/" +
            std::to_string(p.n_kv_heads) + " q_len " + std::to_string(p.q_len);
  return in;
}

TEST_P(TransformerOpsSimd, AttentionMatchesRefAcrossGqaRatiosAndMasks) {
  for (const AttentionCase& c : simd_attention_cases()) {
    const AttentionParams& p = c.p;
    const auto [q, k, v, what] = attention_inputs(p, name());
    std::vector<float> got(q.size(), 7.0f), want(q.size(), 7.0f);
    ASSERT_TRUE(attention(ops(), p, q.data(), k.data(), v.data(), c.kv_valid, c.q_pos, got.data()).ok());
    ASSERT_TRUE(attention(ref_config(), p, q.data(), k.data(), v.data(), c.kv_valid, c.q_pos,
                          want.data()).ok());
    // f32 dot products (error ~ |s| * head_dim * 2^-24 on each score, |s| up to ~50 in the
    // encoder case, shifting weights by that relatively) and f32 accumulation of |v| <= 1.
    const double tol = p.scale == 1.0f ? 2e-4 : 2e-6;
    expect_close(got, want, tol, tol, what);
  }
}

// K/V stored as f16 or q8 (encode_kv) read by each ISA's kernel against the scalar reference
// reading the same bytes. f16 widens exactly, so the kernel must give bit for bit what it gives
// on f32 K/V holding the same values, and the f32 bounds above apply. q8 multiplies each
// key's scale into its score and each V row's scale into its weight after the int8 dot product
// and sum, where the reference multiplies it into every value first: one more f32 rounding
// per score and per weight, relative 2^-24 each, far inside the same bounds.
TEST_P(TransformerOpsSimd, AttentionOnF16AndQ8KvMatchesRef) {
  for (const AttentionCase& c : simd_attention_cases()) {
    const AttentionParams& p = c.p;
    const auto [q, k, v, what] = attention_inputs(p, name());
    const size_t vectors = k.size() / p.head_dim;
    for (KvEncoding e : {KvEncoding::f16, KvEncoding::q8}) {
      std::vector<unsigned char> kq(k.size() * kv_value_bytes(e)), vq(kq.size());
      std::vector<float> ks(vectors), vs(vectors);
      encode_kv(e, vectors, p.head_dim, k.data(), kq.data(), ks.data(), 0);
      encode_kv(e, vectors, p.head_dim, v.data(), vq.data(), vs.data(), 0);
      const KvRows kr(kq.data(), ks.data()), vr(vq.data(), vs.data());
      AttentionParams pe = p;
      pe.kv_encoding = e;
      std::vector<float> got(q.size(), 7.0f), want(q.size(), 7.0f);
      ASSERT_TRUE(attention(ops(), pe, q.data(), kr, vr, c.kv_valid, c.q_pos, got.data()).ok());
      ASSERT_TRUE(attention(ref_config(), pe, q.data(), kr, vr, c.kv_valid, c.q_pos, want.data()).ok());
      const double tol = p.scale == 1.0f ? 2e-4 : 2e-6;
      expect_close(got, want, tol, tol, std::string(kv_encoding_name(e)) + " " + what);
      if (e != KvEncoding::f16) continue;
      std::vector<float> kd(k.size()), vd(v.size()), same(q.size(), 7.0f);
      for (size_t i = 0; i < vectors; ++i) {
        decode_kv(e, kr, i, p.head_dim, kd.data() + i * p.head_dim);
        decode_kv(e, vr, i, p.head_dim, vd.data() + i * p.head_dim);
      }
      ASSERT_TRUE(attention(ops(), p, q.data(), kd.data(), vd.data(), c.kv_valid, c.q_pos, same.data()).ok());
      EXPECT_EQ(std::memcmp(got.data(), same.data(), got.size() * sizeof(float)), 0)
          << what << ": f16 K/V differ from f32 K/V holding the same values";
    }
  }
}

// Q, K and V read in place from fused rows (an encoder's [tokens, Q | K | V] projection, with
// a spare column between rows) give bit for bit what the packed copies give, in each ISA's
// kernel and in the reference (the cases where queries and keys are the same tokens).
TEST_P(TransformerOpsSimd, AttentionReadsStridedQkvRowsLikePackedOnes) {
  for (const AttentionCase& c : simd_attention_cases()) {
    const AttentionParams& p = c.p;
    if (p.kv_capacity != 0 && p.kv_capacity != p.kv_len) continue;  // fused rows: one per token
    if (p.q_len != p.kv_len) continue;
    const auto [q, k, v, what] = attention_inputs(p, name());
    const size_t qw = p.n_heads * p.head_dim, kw = p.n_kv_heads * p.head_dim;
    const size_t stride = qw + 2 * kw + 1, tokens = p.batch * p.q_len;
    std::vector<float> fused(tokens * stride, 9.0f);
    for (size_t t = 0; t < tokens; ++t) {
      std::copy_n(q.data() + t * qw, qw, fused.data() + t * stride);
      std::copy_n(k.data() + t * kw, kw, fused.data() + t * stride + qw);
      std::copy_n(v.data() + t * kw, kw, fused.data() + t * stride + qw + kw);
    }
    AttentionParams ps = p;
    ps.q_stride = ps.kv_stride = stride;
    for (const TransformerOpsConfig* config : {&ops(), &ref_config()}) {
      std::vector<float> packed(q.size(), 7.0f), strided(q.size(), 7.0f);
      ASSERT_TRUE(attention(*config, p, q.data(), k.data(), v.data(), c.kv_valid, c.q_pos, packed.data()).ok());
      ASSERT_TRUE(attention(*config, ps, fused.data(), fused.data() + qw, fused.data() + qw + kw, c.kv_valid,
                            c.q_pos, strided.data()).ok());
      EXPECT_EQ(std::memcmp(packed.data(), strided.data(), packed.size() * sizeof(float)), 0)
          << config->name << " " << what << ": strided rows differ from packed ones";
    }
  }
}

// Static partitioning computes each element on one thread in a fixed order, so results are
// bitwise the same however the work is split: the whole range on one thread, the two halves
// static_partition gives two threads run one after the other, and (natively) two real threads.
TEST_P(TransformerOpsSimd, ResultsIndependentOfThreadCount) {
  const size_t rows = 64, n = 1001;
  std::vector<float> x = random_floats(rows * n, -5.0f, 5.0f, 500);
  std::vector<float> gamma = random_floats(n, 0.5f, 1.5f, 501);
  std::vector<float> beta = random_floats(n, -1.0f, 1.0f, 502);
  const AttentionParams p{.batch = 2, .q_len = 40, .kv_len = 40, .kv_capacity = 40,
                          .n_heads = 8, .n_kv_heads = 2, .head_dim = 64,
                          .scale = 0.125f, .causal = true, .q_stride = 8 * 64, .kv_stride = 2 * 64};
  std::vector<float> q = random_floats(2 * 40 * 8 * 64, -1, 1, 503);
  std::vector<float> kv = random_floats(2 * 40 * 2 * 64, -1, 1, 504);
  const size_t tasks = attention_task_count(p);
  // Runs every op over [0, count) of its unit (rows, elements, attention tasks) in `parts`.
  auto run_split = [&](int parts) {
    std::vector<float> sm(rows * n), ln(rows * n), ge(rows * n), att(q.size());
    for (int t = 0; t < parts; ++t) {
      const Range r = static_partition(rows, 1, t, parts);
      ops().softmax(r.size(), n, x.data() + r.begin * n, n, sm.data() + r.begin * n, n);
      ops().layernorm(r.size(), n, x.data() + r.begin * n, n, gamma.data(), beta.data(), 1e-5f,
                      ln.data() + r.begin * n, n);
      const Range e = static_partition(rows * n, 16, t, parts);
      ops().gelu_erf(e.size(), x.data() + e.begin, ge.data() + e.begin);
      const Range a = static_partition(tasks, 1, t, parts);
      ops().attention(p, q.data(), kv.data(), kv.data(), nullptr, nullptr, att.data(), a.begin,
                      a.end);
    }
    for (const auto* v : {&ln, &ge, &att}) sm.insert(sm.end(), v->begin(), v->end());
    return sm;
  };
  auto run_threads = [&](int threads) {
    set_num_threads(threads);
    std::vector<float> sm(rows * n), ln(rows * n), ge(rows * n), att(q.size());
    softmax(ops(), rows, n, x.data(), n, sm.data(), n);
    layernorm(ops(), rows, n, x.data(), n, gamma.data(), beta.data(), 1e-5f, ln.data(), n);
    gelu_erf(ops(), rows * n, x.data(), ge.data());
    EXPECT_TRUE(attention(ops(), p, q.data(), kv.data(), kv.data(), {}, {}, att.data()).ok());
    for (const auto* v : {&ln, &ge, &att}) sm.insert(sm.end(), v->begin(), v->end());
    return sm;
  };
  const std::vector<float> whole = run_split(1);
  const auto same = [&](const std::vector<float>& other) {
    return other.size() == whole.size() &&
           std::memcmp(whole.data(), other.data(), whole.size() * sizeof(float)) == 0;
  };
  EXPECT_TRUE(same(run_split(2))) << name() << " two halves";
  EXPECT_TRUE(same(run_split(3))) << name() << " three parts";
  EXPECT_TRUE(same(run_threads(1))) << name() << " entry point, one thread";
  EXPECT_TRUE(same(run_threads(2))) << name() << " two threads";
}

INSTANTIATE_TEST_SUITE_P(Isa, TransformerOpsSimd, ::testing::ValuesIn(testing::simd_configs()),
                         [](const auto& info) { return std::string(info.param->name); });
// A CPU without any SIMD family (none of avx2/avx512/neon) has nothing to compare.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TransformerOpsSimd);

}  // namespace
}  // namespace sparq::kernels
