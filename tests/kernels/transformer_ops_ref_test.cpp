// The scalar reference transformer ops (ref) against double-precision formulas written here,
// independently of the kernels: the textbook definitions, std::erf for GELU, attention that
// builds the full masked score matrix, RoPE as complex rotation.
#include <gtest/gtest.h>

#include <algorithm>
#include <complex>
#include <cstring>
#include <limits>

#include "tests/kernels/transformer_ops_testing.h"

namespace sparq::kernels {
namespace {

using testing::expect_close;
using testing::random_floats;
using testing::ref_config;

using testing::AttentionCase;
using testing::kInf;
const size_t kRaggedSizes[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 100, 257, 768};

class TransformerOpsRef : public ::testing::Test, testing::TransformerOpsTest {};

// The ref kernels round a double result to f32 once: half an ulp, 1e-7 of slack for the
// f32 input products.
constexpr double kRefRel = 2e-7;

TEST_F(TransformerOpsRef, LayernormMatchesTextbookFormula) {
  for (size_t n : kRaggedSizes) {
    const size_t rows = 3;
    // A large common offset: a one-pass E[x^2] - E[x]^2 would lose the variance here.
    std::vector<float> x = random_floats(rows * n, 1000.0f, 1002.0f, 1 + n);
    std::vector<float> gamma = random_floats(n, 0.5f, 1.5f, 2 + n);
    std::vector<float> beta = random_floats(n, -1.0f, 1.0f, 3 + n);
    std::vector<float> y(rows * n);
    const float eps = 1e-5f;
    layernorm(ref_config(), rows, n, x.data(), n, gamma.data(), beta.data(), eps, y.data(), n);
    std::vector<double> want(rows * n);
    for (size_t r = 0; r < rows; ++r) {
      double mean = 0, var = 0;
      for (size_t i = 0; i < n; ++i) mean += x[r * n + i] / double(n);
      for (size_t i = 0; i < n; ++i) var += std::pow(x[r * n + i] - mean, 2) / double(n);
      for (size_t i = 0; i < n; ++i)
        want[r * n + i] = (x[r * n + i] - mean) / std::sqrt(var + eps) * gamma[i] + beta[i];
    }
    // The mean's and the subtraction's double rounding, amplified by 1/std ~ 1.7.
    expect_close(y, want, kRefRel, 1e-9, "layernorm n=" + std::to_string(n));
  }
}

TEST_F(TransformerOpsRef, RmsnormMatchesTextbookFormula) {
  for (size_t n : kRaggedSizes) {
    const size_t rows = 2, stride = n + 5;  // strided rows
    std::vector<float> x = random_floats(rows * stride, -3.0f, 3.0f, 4 + n);
    std::vector<float> gamma = random_floats(n, 0.5f, 1.5f, 5 + n);
    std::vector<float> y(rows * stride, 7.0f);
    rmsnorm(ref_config(), rows, n, x.data(), stride, gamma.data(), 1e-6f, y.data(), stride);
    std::vector<float> got;
    std::vector<double> want;
    for (size_t r = 0; r < rows; ++r) {
      double ms = 0;
      for (size_t i = 0; i < n; ++i) ms += std::pow(x[r * stride + i], 2) / double(n);
      for (size_t i = 0; i < n; ++i) {
        got.push_back(y[r * stride + i]);
        want.push_back(x[r * stride + i] / std::sqrt(ms + 1e-6) * gamma[i]);
      }
      for (size_t i = n; i < stride; ++i) EXPECT_EQ(y[r * stride + i], 7.0f) << "gap written";
    }
    expect_close(got, want, kRefRel, 0, "rmsnorm n=" + std::to_string(n));
  }
}

std::vector<double> softmax_double(const std::vector<float>& x) {
  double max = -INFINITY;
  for (float v : x) max = std::max(max, double(v));
  std::vector<double> y(x.size(), 0.0);
  if (max == -INFINITY) return y;
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) sum += y[i] = std::exp(double(x[i]) - max);
  for (double& v : y) v /= sum;
  return y;
}

TEST_F(TransformerOpsRef, SoftmaxMatchesDoubleFormulaWithMasksAndExtremes) {
  for (size_t n : kRaggedSizes) {
    std::vector<float> x = random_floats(n, -20.0f, 20.0f, 6 + n);
    for (size_t i = 1; i < n; i += 3) x[i] = -kInf;  // masked entries
    std::vector<float> y(n);
    softmax(ref_config(), 1, n, x.data(), n, y.data(), n);
    std::vector<double> want = softmax_double(x);
    // exp's f32 result (1/2 ulp) and the final rounding.
    expect_close(y, want, 3e-7, 1e-30, "softmax n=" + std::to_string(n));
    for (size_t i = 1; i < n; i += 3) EXPECT_EQ(y[i], 0.0f) << "masked entry " << i;
  }
  // Magnitudes where exp without max subtraction overflows f32.
  std::vector<float> big = {1e4f, 1e4f - 1.0f, -1e4f, 3e38f, 3e38f};
  std::vector<float> y(big.size());
  softmax(ref_config(), 1, big.size(), big.data(), big.size(), y.data(), big.size());
  expect_close(y, softmax_double(big), 3e-7, 1e-30, "softmax large magnitudes");
}

TEST_F(TransformerOpsRef, SoftmaxFullyMaskedRowIsZeros) {
  std::vector<float> x = {-kInf, -kInf, -kInf, 1.0f, -kInf, -kInf};
  std::vector<float> y(6, 5.0f);
  softmax(ref_config(), 2, 3, x.data(), 3, y.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{0, 0, 0, 1, 0, 0}));
}

double gelu_erf_double(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh_double(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
double silu_double(double x) { return x / (1 + std::exp(-x)); }

TEST_F(TransformerOpsRef, ActivationsMatchDoubleFormulas) {
  std::vector<float> x = random_floats(1001, -8.0f, 8.0f, 7);
  x.insert(x.end(), {0.0f, -0.0f, 1e-30f, -1e-30f, 30.0f, -30.0f});
  std::vector<double> erf_want, tanh_want, silu_want;
  for (float v : x) {
    erf_want.push_back(gelu_erf_double(v));
    tanh_want.push_back(gelu_tanh_double(v));
    silu_want.push_back(silu_double(v));
  }
  std::vector<float> y(x.size());
  gelu_erf(ref_config(), x.size(), x.data(), y.data());
  // erf form vs erfc form differ where 1 + erf(x/sqrt2) cancels; 1e-15 covers that absolutely.
  expect_close(y, erf_want, kRefRel, 1e-15, "gelu_erf");
  gelu_tanh(ref_config(), x.size(), x.data(), y.data());
  expect_close(y, tanh_want, kRefRel, 1e-15, "gelu_tanh");
  silu(ref_config(), x.size(), x.data(), y.data());
  expect_close(y, silu_want, kRefRel, 1e-30, "silu");
}

TEST_F(TransformerOpsRef, SwigluIsSiluOfGateTimesUp) {
  const size_t rows = 3, n = 37, stride = 2 * n;  // gate | up halves of one fused row
  std::vector<float> gu = random_floats(rows * stride, -6.0f, 6.0f, 8);
  std::vector<float> y(rows * n);
  swiglu(ref_config(), rows, n, gu.data(), stride, gu.data() + n, stride, y.data(), n);
  std::vector<double> want;
  for (size_t r = 0; r < rows; ++r)
    for (size_t i = 0; i < n; ++i)
      want.push_back(silu_double(gu[r * stride + i]) * gu[r * stride + n + i]);
  expect_close(y, want, kRefRel, 1e-30, "swiglu");
}

TEST_F(TransformerOpsRef, ResidualAddInPlace) {
  std::vector<float> a = random_floats(70000, -1.0f, 1.0f, 9);  // enough to be threaded
  std::vector<float> b = random_floats(a.size(), -1.0f, 1.0f, 10);
  std::vector<float> want(a.size());
  for (size_t i = 0; i < a.size(); ++i) want[i] = a[i] + b[i];  // one f32 rounding, exact
  residual_add(a.size(), a.data(), b.data(), a.data());
  EXPECT_EQ(a, want);
}

// ---- RoPE ------------------------------------------------------------------------------

// (x[a] + i x[b]) * e^{i angle} for the pair (a, b) that `style` assigns to index p.
std::vector<double> rope_complex(const RopeParams& p, const std::vector<int32_t>& offsets,
                                 const std::vector<float>& x) {
  const size_t rd = p.rotary_dim ? p.rotary_dim : p.head_dim;
  std::vector<double> y(x.begin(), x.end());
  for (size_t b = 0; b < p.batch; ++b)
    for (size_t s = 0; s < p.seq; ++s)
      for (size_t h = 0; h < p.heads; ++h)
        for (size_t i = 0; i < rd / 2; ++i) {
          const size_t base = ((b * p.seq + s) * p.heads + h) * p.head_dim;
          const size_t ia = p.style == RopeStyle::interleaved ? 2 * i : i;
          const size_t ib = p.style == RopeStyle::interleaved ? 2 * i + 1 : i + rd / 2;
          const double pos = double(s) + (offsets.empty() ? 0 : offsets[b]);
          const double freq =
              p.inv_freq ? p.inv_freq[i] : 1.0 / std::pow(double(p.theta), 2.0 * double(i) / double(rd));
          const std::complex<double> z =
              std::complex<double>(x[base + ia], x[base + ib]) * std::polar(1.0, pos * freq);
          y[base + ia] = z.real();
          y[base + ib] = z.imag();
        }
  return y;
}

TEST_F(TransformerOpsRef, RopeMatchesComplexRotation) {
  struct Case {
    RopeParams p;
    std::vector<int32_t> offsets;
  };
  const Case cases[] = {
      {{.batch = 2, .seq = 5, .heads = 3, .head_dim = 8, .theta = 10000.0f,
        .style = RopeStyle::interleaved}, {0, 7}},
      {{.batch = 2, .seq = 5, .heads = 3, .head_dim = 8, .theta = 10000.0f,
        .style = RopeStyle::half_split}, {3, 0}},
      // partial rotary (GPT-J rotary_dim < head_dim), Llama-3 theta, a long-context offset
      {{.batch = 1, .seq = 3, .heads = 2, .head_dim = 10, .rotary_dim = 6, .theta = 500000.0f,
        .style = RopeStyle::interleaved}, {4093}},
      {{.batch = 1, .seq = 4, .heads = 1, .head_dim = 64, .theta = 10000.0f,
        .style = RopeStyle::half_split}, {}},
  };
  for (const Case& c : cases) {
    std::vector<float> x = random_floats(c.p.batch * c.p.seq * c.p.heads * c.p.head_dim, -2.0f,
                                         2.0f, 11 + c.p.head_dim);
    const std::vector<double> want = rope_complex(c.p, c.offsets, x);
    ASSERT_TRUE(rope(c.p, c.offsets, x.data()).ok());
    // A rotation keeps the pair's norm (<= 2.9 here); f32 rounding of each output.
    expect_close(x, want, 0, 4e-7, "rope head_dim=" + std::to_string(c.p.head_dim));
  }
}

// Frequencies given explicitly (context-extension schemes) replace theta's.
TEST_F(TransformerOpsRef, RopeTakesExplicitFrequencies) {
  const double inv_freq[4] = {1.0, 0.3, 0.01, 1e-4};
  const RopeParams p{.batch = 2, .seq = 3, .heads = 2, .head_dim = 8, .inv_freq = inv_freq};
  const std::vector<int32_t> offsets = {0, 1000};
  std::vector<float> x = random_floats(2 * 3 * 2 * 8, -2.0f, 2.0f, 5);
  const std::vector<double> want = rope_complex(p, offsets, x);
  ASSERT_TRUE(rope(p, offsets, x.data()).ok());
  expect_close(x, want, 0, 4e-7, "rope with inv_freq");
}

TEST_F(TransformerOpsRef, RopeRejectsBadShapes) {
  float x[8] = {};
  EXPECT_FALSE(rope({.head_dim = 8, .rotary_dim = 5}, {}, x).ok());
  EXPECT_FALSE(rope({.head_dim = 8, .rotary_dim = 10}, {}, x).ok());
  const int32_t two[2] = {0, 0};
  EXPECT_FALSE(rope({.batch = 1, .head_dim = 8}, two, x).ok());
}

// ---- Attention -------------------------------------------------------------------------


// Builds the whole [q_len, kv_len] score matrix per (batch, head) with an explicit mask.
std::vector<double> naive_attention(const AttentionCase& c, const std::vector<float>& q,
                                    const std::vector<float>& k, const std::vector<float>& v) {
  const AttentionParams& p = c.p;
  const size_t cap = p.kv_capacity ? p.kv_capacity : p.kv_len;
  const double scale = p.scale != 0 ? p.scale : 1 / std::sqrt(double(p.head_dim));
  std::vector<double> out(p.batch * p.q_len * p.n_heads * p.head_dim, 0.0);
  for (size_t b = 0; b < p.batch; ++b)
    for (size_t h = 0; h < p.n_heads; ++h) {
      const size_t kvh = h * p.n_kv_heads / p.n_heads;
      std::vector<std::vector<double>> s(p.q_len, std::vector<double>(p.kv_len));
      for (size_t i = 0; i < p.q_len; ++i)
        for (size_t j = 0; j < p.kv_len; ++j) {
          const int64_t pos = c.q_pos.empty() ? int64_t(p.kv_len - p.q_len + i) : c.q_pos[b] + int64_t(i);
          const bool padded = !c.kv_valid.empty() && int64_t(j) >= c.kv_valid[b];
          const bool future = p.causal && int64_t(j) > pos;
          double dot = 0;
          for (size_t d = 0; d < p.head_dim; ++d)
            dot += double(q[((b * p.q_len + i) * p.n_heads + h) * p.head_dim + d]) *
                   k[((b * cap + j) * p.n_kv_heads + kvh) * p.head_dim + d];
          s[i][j] = padded || future ? -INFINITY : dot * scale;
        }
      for (size_t i = 0; i < p.q_len; ++i) {
        const double max = *std::max_element(s[i].begin(), s[i].end());
        if (max == -INFINITY) continue;  // fully masked row stays zero
        double sum = 0;
        for (double& e : s[i]) sum += e = std::exp(e - max);
        for (size_t j = 0; j < p.kv_len; ++j)
          for (size_t d = 0; d < p.head_dim; ++d)
            out[((b * p.q_len + i) * p.n_heads + h) * p.head_dim + d] +=
                s[i][j] / sum * v[((b * cap + j) * p.n_kv_heads + kvh) * p.head_dim + d];
      }
    }
  return out;
}

std::vector<AttentionCase> attention_cases() {
  std::vector<AttentionCase> cases;
  // Multi-head prefill, causal, batched.
  cases.push_back({{.batch = 2, .q_len = 7, .kv_len = 7, .n_heads = 4, .n_kv_heads = 4,
                    .head_dim = 16, .causal = true}, {}, {}});
  // Encoder with key padding (one sequence with a single valid key), no causal mask.
  cases.push_back({{.batch = 3, .q_len = 9, .kv_len = 9, .n_heads = 2, .n_kv_heads = 2,
                    .head_dim = 7}, {9, 1, 5}, {}});
  // GQA ratios 1, 2, 4, 8: decode (q_len 1) against a KV cache with spare capacity and
  // per-sequence lengths, one sequence fully masked.
  for (size_t ratio : {1, 2, 4, 8})
    cases.push_back({{.batch = 3, .q_len = 1, .kv_len = 70, .kv_capacity = 80,
                      .n_heads = 8, .n_kv_heads = 8 / ratio, .head_dim = 33, .causal = true},
                     {70, 0, 41}, {69, 0, 40}});
  // GQA prefill of right-padded prompts longer than a key block and a query block.
  cases.push_back({{.batch = 2, .q_len = 20, .kv_len = 150, .n_heads = 4, .n_kv_heads = 2,
                    .head_dim = 64, .causal = true}, {150, 90}, {130, 70}});
  // head_dim 1, explicit scale, chunked prefill (q_len < kv_len, default positions).
  cases.push_back({{.batch = 1, .q_len = 3, .kv_len = 5, .n_heads = 2, .n_kv_heads = 1,
                    .head_dim = 1, .scale = 0.3f, .causal = true}, {}, {}});
  return cases;
}

void check_attention(const TransformerOpsConfig& ops, const AttentionCase& c, double rel,
                     double abs, const std::string& what) {
  const AttentionParams& p = c.p;
  const size_t cap = p.kv_capacity ? p.kv_capacity : p.kv_len;
  const uint32_t seed = static_cast<uint32_t>(p.n_kv_heads * 131 + p.q_len);
  std::vector<float> q = random_floats(p.batch * p.q_len * p.n_heads * p.head_dim, -2, 2, seed);
  std::vector<float> k = random_floats(p.batch * cap * p.n_kv_heads * p.head_dim, -2, 2, seed + 1);
  std::vector<float> v = random_floats(k.size(), -2, 2, seed + 2);
  std::vector<float> out(q.size(), 99.0f);
  ASSERT_TRUE(attention(ops, p, q.data(), k.data(), v.data(), c.kv_valid, c.q_pos, out.data()).ok());
  expect_close(out, naive_attention(c, q, k, v), rel, abs, what);
}

TEST_F(TransformerOpsRef, AttentionMatchesFullScoreMatrix) {
  // Scores round to f32 once per product sum; outputs are convex combinations of |v| <= 2.
  for (const AttentionCase& c : attention_cases())
    check_attention(ref_config(), c, 1e-6, 1e-6,
                    "attention heads " + std::to_string(c.p.n_heads) + "/" +
                        std::to_string(c.p.n_kv_heads) + " q_len " + std::to_string(c.p.q_len));
}

TEST_F(TransformerOpsRef, AttentionRejectsBadShapes) {
  float buf[64] = {};
  const int32_t one[1] = {1};
  auto run = [&](AttentionParams p, std::span<const int32_t> valid = {}) {
    return attention(ref_config(), p, buf, buf, buf, valid, {}, buf).ok();
  };
  EXPECT_FALSE(run({.kv_len = 2, .n_heads = 3, .n_kv_heads = 2, .head_dim = 4}));
  EXPECT_FALSE(run({.kv_len = 2, .kv_capacity = 1, .head_dim = 4}));
  EXPECT_FALSE(run({.batch = 2, .kv_len = 2, .head_dim = 4}, one));
  EXPECT_FALSE(run({.q_len = 3, .kv_len = 2, .head_dim = 4, .causal = true}));
  EXPECT_FALSE(run({.kv_len = 2, .head_dim = 0}));
  EXPECT_TRUE(run({.kv_len = 2, .head_dim = 4}, one));
}

// ---- Stored keys and values (KvEncoding) -------------------------------------------------

// An IEEE half from its fields, by the definition of binary16.
double half_value(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  const double mag = exp == 0 ? std::ldexp(mant, -24) : std::ldexp(1024 + mant, exp - 25);
  return sign ? -mag : mag;
}

// K/V stored as `e`, and what its vectors hold read back by the definitions of the encodings
// (binary16 fields; scale * int8), not by decode_kv.
struct EncodedKv {
  std::vector<unsigned char> values;
  std::vector<float> scales;
  std::vector<float> decoded;
  KvRows rows() const { return {values.data(), scales.empty() ? nullptr : scales.data()}; }
};

EncodedKv encode_all(KvEncoding e, const std::vector<float>& x, size_t head_dim) {
  const size_t vectors = x.size() / head_dim;
  EncodedKv out;
  out.values.resize(x.size() * kv_value_bytes(e));
  if (e == KvEncoding::q8) out.scales.resize(vectors);
  encode_kv(e, vectors, head_dim, x.data(), out.values.data(), out.scales.data(), 0);
  out.decoded.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    switch (e) {
      case KvEncoding::f32: std::memcpy(&out.decoded[i], &out.values[i * 4], 4); break;
      case KvEncoding::f16: {
        uint16_t h;
        std::memcpy(&h, &out.values[i * 2], 2);
        out.decoded[i] = static_cast<float>(half_value(h));
        break;
      }
      case KvEncoding::q8:
        out.decoded[i] = out.scales[i / head_dim] * static_cast<int8_t>(out.values[i]);
        break;
    }
  }
  return out;
}

TEST_F(TransformerOpsRef, KvEncodingsRoundToTheirDefinitions) {
  const size_t hd = 37, count = 4, first = 2, total = 8;
  std::vector<float> x = random_floats(count * hd, -3, 3, 40);
  std::fill(x.begin() + hd, x.begin() + 2 * hd, 0.0f);  // a zero vector
  x[2 * hd + 5] = 1e4f;                                 // one outlier in a vector
  x[3 * hd + 1] = 1e-6f;                                // below f16's normals
  for (KvEncoding e : {KvEncoding::f32, KvEncoding::f16, KvEncoding::q8}) {
    const std::string what = kv_encoding_name(e);
    const size_t bytes = kv_value_bytes(e);
    ASSERT_EQ(bytes, e == KvEncoding::f32 ? 4u : e == KvEncoding::f16 ? 2u : 1u);
    // Vectors [first, first + count) of `total`; the others keep their sentinel bytes.
    std::vector<unsigned char> values(total * hd * bytes, 0xa5);
    std::vector<float> scales(total, -1.0f);
    encode_kv(e, count, hd, x.data(), values.data(), scales.data(), first);
    for (size_t i = 0; i < total * hd * bytes; ++i) {
      if (i < first * hd * bytes || i >= (first + count) * hd * bytes) {
        ASSERT_EQ(values[i], 0xa5) << what << " byte " << i;
      }
    }
    for (size_t v = 0; v < total; ++v) {
      if (e != KvEncoding::q8 || v < first || v >= first + count) {
        EXPECT_EQ(scales[v], -1.0f) << what << " scale " << v;
      }
    }
    std::vector<float> got(hd);
    for (size_t v = 0; v < count; ++v) {
      const float* xv = x.data() + v * hd;
      decode_kv(e, KvRows(values.data(), scales.data()), first + v, hd, got.data());
      const unsigned char* stored = values.data() + (first + v) * hd * bytes;
      double amax = 0;
      for (size_t d = 0; d < hd; ++d) amax = std::max(amax, double(std::fabs(xv[d])));
      for (size_t d = 0; d < hd; ++d) {
        const std::string at = what + " vector " + std::to_string(v) + " value " + std::to_string(d);
        if (e == KvEncoding::f32) {
          EXPECT_EQ(got[d], xv[d]) << at;
        } else if (e == KvEncoding::f16) {
          uint16_t h;
          std::memcpy(&h, stored + 2 * d, 2);
          EXPECT_EQ(got[d], half_value(h)) << at;
          // The nearest half: neither neighbour (same sign, magnitude one ulp up or down) is closer.
          const double err = std::abs(half_value(h) - xv[d]);
          for (int step : {-1, 1}) {
            const uint16_t n = static_cast<uint16_t>(h + step);
            if ((h & 0x7fff) == 0 && step < 0) continue;
            EXPECT_LE(err, std::abs(half_value(n) - xv[d])) << at;
          }
        } else {
          const float scale = scales[first + v];
          EXPECT_EQ(scale, static_cast<float>(amax) / 127.0f) << at;
          const int8_t n = static_cast<int8_t>(stored[d]);
          EXPECT_EQ(got[d], scale * n) << at;
          // Round to nearest of x / scale (up to f32 rounding of the reciprocal product); a
          // zero vector is all zeros.
          const double exact = scale > 0 ? xv[d] / double(scale) : 0.0;
          EXPECT_LE(std::abs(n - exact), 0.5 + 1e-4) << at;
        }
      }
    }
  }
}

TEST_F(TransformerOpsRef, AttentionOnF16AndQ8KvIsAttentionOnTheirValues) {
  for (const AttentionCase& c : attention_cases()) {
    const AttentionParams& p = c.p;
    const size_t cap = p.kv_capacity ? p.kv_capacity : p.kv_len;
    const uint32_t seed = static_cast<uint32_t>(p.n_kv_heads * 131 + p.q_len);
    std::vector<float> q = random_floats(p.batch * p.q_len * p.n_heads * p.head_dim, -2, 2, seed);
    std::vector<float> k = random_floats(p.batch * cap * p.n_kv_heads * p.head_dim, -2, 2, seed + 1);
    std::vector<float> v = random_floats(k.size(), -2, 2, seed + 2);
    for (KvEncoding e : {KvEncoding::f16, KvEncoding::q8}) {
      const EncodedKv ke = encode_all(e, k, p.head_dim), ve = encode_all(e, v, p.head_dim);
      AttentionParams pe = p;
      pe.kv_encoding = e;
      std::vector<float> out(q.size(), 99.0f);
      ASSERT_TRUE(attention(ref_config(), pe, q.data(), ke.rows(), ve.rows(), c.kv_valid, c.q_pos, out.data()).ok());
      // The same bound as f32 K/V: the reference decodes, then computes in double.
      expect_close(out, naive_attention(c, q, ke.decoded, ve.decoded), 1e-6, 1e-6,
                   std::string(kv_encoding_name(e)) + " attention heads " + std::to_string(p.n_heads) + "/" +
                       std::to_string(p.n_kv_heads) + " q_len " + std::to_string(p.q_len));
    }
  }
  // q8 values without their scales are refused, not read through a null pointer.
  float buf[64] = {};
  const AttentionParams p{.kv_len = 2, .head_dim = 4, .kv_encoding = KvEncoding::q8};
  EXPECT_FALSE(attention(ref_config(), p, buf, KvRows(buf, nullptr), KvRows(buf, buf), {}, {}, buf).ok());
  EXPECT_TRUE(attention(ref_config(), p, buf, KvRows(buf, buf), KvRows(buf, buf), {}, {}, buf).ok());
  // Strides narrower than a row would overlap rows; a K/V stride only means something for f32.
  AttentionParams s{.kv_len = 2, .n_heads = 2, .head_dim = 4};
  s.q_stride = 7;
  const auto refused = [&](const AttentionParams& bad, const std::string& field) {
    const Status st = attention(ref_config(), bad, buf, KvRows(buf, buf), KvRows(buf, buf), {}, {}, buf);
    EXPECT_FALSE(st.ok()) << field;
    if (!st.ok()) {
      EXPECT_NE(st.error().message().find(field), std::string::npos) << st.error().message();
    }
  };
  refused(s, "q_stride 7");
  s.q_stride = 8;
  s.kv_stride = 3;
  refused(s, "kv_stride 3");
  s.kv_stride = 12;
  EXPECT_TRUE(attention(ref_config(), s, buf, buf, buf, {}, {}, buf).ok());
  s.kv_encoding = KvEncoding::q8;
  refused(s, "needs f32 K/V");
}

// ---- Embedding -------------------------------------------------------------------------

TEST_F(TransformerOpsRef, EmbeddingLookupF32F16Q8) {
  const size_t vocab = 11, dim = 37;
  const std::vector<int32_t> tokens = {3, 0, 10, 3};
  std::mt19937 rng(12);
  // f32: rows copied.
  std::vector<float> f32 = random_floats(vocab * dim, -1, 1, 13);
  std::vector<float> out(tokens.size() * dim);
  EmbeddingTable t{EmbeddingEncoding::f32, vocab, dim, 0, f32.data(), f32.size() * 4};
  ASSERT_TRUE(embedding_lookup(t, tokens, out.data(), dim).ok());
  for (size_t i = 0; i < tokens.size(); ++i)
    for (size_t c = 0; c < dim; ++c) EXPECT_EQ(out[i * dim + c], f32[tokens[i] * dim + c]);
  // f16: random finite halves, normals and subnormals, against the field-by-field value.
  std::vector<uint16_t> f16(vocab * dim);
  for (uint16_t& h : f16) do h = static_cast<uint16_t>(rng()); while (((h >> 10) & 0x1f) == 0x1f);
  t = {EmbeddingEncoding::f16, vocab, dim, 0, f16.data(), f16.size() * 2};
  ASSERT_TRUE(embedding_lookup(t, tokens, out.data(), dim).ok());
  for (size_t i = 0; i < tokens.size(); ++i)
    for (size_t c = 0; c < dim; ++c)
      EXPECT_EQ(out[i * dim + c], half_value(f16[tokens[i] * dim + c]));
  // q8 with groups of 16 (last group partial) and with one scale per row: SPEC.md section 5
  // layout, scales then values at the next 64-byte boundary.
  for (size_t group : {size_t{16}, size_t{0}}) {
    const size_t groups = group ? (dim + group - 1) / group : 1;
    const size_t values_at = (vocab * groups * 4 + 63) / 64 * 64;
    std::vector<unsigned char> payload(values_at + vocab * dim, 0);
    std::vector<float> scales = random_floats(vocab * groups, 0.001f, 0.1f, 14);
    std::memcpy(payload.data(), scales.data(), scales.size() * 4);
    for (size_t i = 0; i < vocab * dim; ++i) payload[values_at + i] = static_cast<unsigned char>(rng());
    t = {EmbeddingEncoding::q8, vocab, dim, group, payload.data(), payload.size()};
    ASSERT_EQ(embedding_payload_bytes(t), payload.size());
    ASSERT_TRUE(embedding_lookup(t, tokens, out.data(), dim).ok());
    for (size_t i = 0; i < tokens.size(); ++i)
      for (size_t c = 0; c < dim; ++c) {
        const size_t row = tokens[i];
        const int8_t q = static_cast<int8_t>(payload[values_at + row * dim + c]);
        const float s = scales[row * groups + (group ? c / group : 0)];
        EXPECT_EQ(out[i * dim + c], s * q) << "group " << group << " token " << i << " col " << c;
      }
    // Errors: a token outside the vocabulary, a payload too short for the table.
    const int32_t bad[] = {0, static_cast<int32_t>(vocab)};
    EXPECT_FALSE(embedding_lookup(t, bad, out.data(), dim).ok());
    const int32_t negative[] = {-1};
    EXPECT_FALSE(embedding_lookup(t, negative, out.data(), dim).ok());
    t.payload_bytes -= 1;
    EXPECT_FALSE(embedding_lookup(t, tokens, out.data(), dim).ok());
  }
}

// Infinities, NaNs (signalling ones too) and subnormals as F16C vcvtph2ps and AArch64 FCVT
// give them: NaNs quiet, with sign and payload kept (bit patterns from the binary16
// definition, not from a conversion routine).
TEST_F(TransformerOpsRef, EmbeddingLookupF16SpecialValues) {
  const std::vector<uint16_t> halves = {0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0xfd55,
                                        0x0001, 0x83ff, 0x0000, 0x8000, 0x0400, 0x7bff};
  const std::vector<uint32_t> want = {0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000,
                                      0x7fc02000, 0xffeaa000, 0x33800000, 0xb87fc000,
                                      0x00000000, 0x80000000, 0x38800000, 0x477fe000};
  const EmbeddingTable t{EmbeddingEncoding::f16, 2, halves.size() / 2, 0, halves.data(),
                         halves.size() * 2};
  std::vector<float> out(halves.size());
  const std::vector<int32_t> tokens = {0, 1};
  ASSERT_TRUE(embedding_lookup(t, tokens, out.data(), halves.size() / 2).ok());
  for (size_t i = 0; i < halves.size(); ++i) {
    uint32_t got;
    std::memcpy(&got, &out[i], 4);
    EXPECT_EQ(got, want[i]) << "half 0x" << std::hex << halves[i];
  }
}

}  // namespace
}  // namespace sparq::kernels
