// Conformance of the dense-GEMM family: every config this CPU can run (plus AMX through
// the tile emulator) against the scalar reference, over ragged shapes and every encoding;
// and the reference itself against an independent double-precision matmul of the
// formats codec's decoded weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu_features.h"
#include "tests/kernels/dense_gemm_tester.h"

namespace sparq::kernels::test {
namespace {

std::vector<const DenseGemmConfig*> configs_present() {
  std::vector<const DenseGemmConfig*> out;
  for (Isa isa : supported_isas(cpu_info().features)) {
    Result<const DenseGemmConfig*> c = dense_gemm_config_for(isa);
    if (c.ok() && (out.empty() || out.back() != *c)) out.push_back(*c);
  }
  // The emulated AMX config runs AVX-512 epilogues and the VNNI GEMV.
  if (amx_emulated_dense_gemm_config() && isa_supported(Isa::avx512vnni, cpu_info().features)) {
    out.push_back(amx_emulated_dense_gemm_config());
  }
  return out;
}

std::string config_test_name(const testing::TestParamInfo<const DenseGemmConfig*>& info) {
  std::string name = info.param->name;
  for (char& ch : name) {
    if (ch == '-') ch = '_';
  }
  return name;
}

class DenseGemm : public testing::TestWithParam<const DenseGemmConfig*> {};

struct Shape {
  size_t m, n, k;
};
// Ragged against every tile in use (MR 4..32, NR 8..32, kc 4..64), plus K = 1 and N = 1.
const Shape kShapes[] = {{1, 1, 1},   {1, 33, 7},  {2, 17, 64},  {3, 1, 130}, {4, 40, 33},
                         {5, 31, 96}, {7, 8, 1},   {9, 65, 129}, {13, 3, 200}, {33, 37, 70},
                         {40, 64, 256}};

TEST_P(DenseGemm, F32RaggedShapes) {
  for (const Shape& s : kShapes) {
    DenseGemmTester().m(s.m).n(s.n).k(s.k).type(DenseType::f32).Test(*GetParam());
  }
}

TEST_P(DenseGemm, F32WithoutBias) {
  DenseGemmTester().m(6).n(20).k(50).type(DenseType::f32).bias(false).Test(*GetParam());
}

// f16 and bf16 weights: the widening kernels (vcvtph2ps, fcvtl; shifts for bf16) against
// the reference's portable f16_to_f32 / bf16_to_f32, GEMM tiles and GEMV (m <= 4) alike.
TEST_P(DenseGemm, F16AndBF16RaggedShapes) {
  for (DenseType type : {DenseType::f16, DenseType::bf16}) {
    for (const Shape& s : kShapes) {
      DenseGemmTester().m(s.m).n(s.n).k(s.k).type(type).Test(*GetParam());
    }
  }
}

TEST_P(DenseGemm, F16AndBF16WithoutBias) {
  for (DenseType type : {DenseType::f16, DenseType::bf16}) {
    DenseGemmTester().m(6).n(20).k(50).type(type).bias(false).Test(*GetParam());
    DenseGemmTester().m(1).n(20).k(50).type(type).bias(false).Test(*GetParam());
  }
}

// Every GEMV height, with k not a multiple of the GEMV's split accumulators (up to 4 k
// steps at a time) and n spanning several panels.
TEST_P(DenseGemm, F16AndBF16GemvPathsMOneToFour) {
  for (DenseType type : {DenseType::f16, DenseType::bf16}) {
    for (size_t m = 1; m <= 4; ++m) {
      for (size_t k : {1, 2, 3, 5, 321}) {
        DenseGemmTester().m(m).n(100).k(k).type(type).seed(uint32_t(m * 1000 + k)).Test(*GetParam());
      }
    }
  }
}

TEST_P(DenseGemm, F16AndBF16ExtremesSubnormalsAndSignedZeros) {
  for (DenseType type : {DenseType::f16, DenseType::bf16}) {
    for (const Shape& s : {Shape{1, 35, 64}, Shape{3, 17, 130}, Shape{9, 40, 33}}) {
      DenseGemmTester().m(s.m).n(s.n).k(s.k).type(type).extremes(true).Test(*GetParam());
    }
  }
}

// The point of the encodings: panels hold 2 bytes per weight, half of f32's.
TEST_P(DenseGemm, F16AndBF16PanelsTakeTwoBytesPerWeight) {
  std::vector<float> w(70 * 96, 0.5f);
  for (DenseType type : {DenseType::f16, DenseType::bf16}) {
    EncodedWeights half = encode_weights(w, 70, 96, type, 0, false);
    EncodedWeights f32 = encode_weights(w, 70, 96, DenseType::f32, 0, false);
    Result<PackedDenseWeights> a = pack_dense_weights(half.view, *GetParam());
    Result<PackedDenseWeights> b = pack_dense_weights(f32.view, *GetParam());
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->type(), type);
    EXPECT_EQ(2 * a->packed_bytes(), b->packed_bytes()) << dense_type_name(type);
  }
}

// No config pads a q8 group beyond what its kernels need: 32-column groups (GGUF Q8_0) take
// the same value bytes as 64-column ones, so a decode step reads no zeros (AMX's tile
// packing pads to 64 and so hands such weights to its VNNI kernels).
TEST_P(DenseGemm, Q8Group32PanelsHoldNoPadding) {
  std::vector<float> w(64 * 256, 0.5f);
  EncodedWeights g32 = encode_weights(w, 64, 256, DenseType::q8, 32, false);
  EncodedWeights g64 = encode_weights(w, 64, 256, DenseType::q8, 64, false);
  Result<PackedDenseWeights> a = pack_dense_weights(g32.view, *GetParam());
  Result<PackedDenseWeights> b = pack_dense_weights(g64.view, *GetParam());
  ASSERT_TRUE(a.ok() && b.ok());
  const size_t scale_bytes_g32 = 64 * (256 / 32) * sizeof(float), scale_bytes_g64 = 64 * (256 / 64) * sizeof(float);
  EXPECT_EQ(a->packed_bytes() - scale_bytes_g32, b->packed_bytes() - scale_bytes_g64);
  EXPECT_EQ(a->packed_bytes() - scale_bytes_g32, 64u * 256u);
}

TEST_P(DenseGemm, Q8PerRowRaggedShapes) {
  for (const Shape& s : kShapes) {
    DenseGemmTester().m(s.m).n(s.n).k(s.k).type(DenseType::q8).Test(*GetParam());
  }
}

TEST_P(DenseGemm, Q8GroupWise) {
  for (size_t group : {1, 3, 16, 32, 100}) {
    DenseGemmTester().m(5).n(34).k(200).type(DenseType::q8).group(group).Test(*GetParam());
    DenseGemmTester().m(33).n(9).k(67).type(DenseType::q8).group(group).Test(*GetParam());
  }
}

TEST_P(DenseGemm, Q4EveryGroupSizeSymmetricAndAsymmetric) {
  for (size_t group : {32, 64, 128}) {
    for (bool asym : {false, true}) {
      DenseGemmTester().m(3).n(35).k(257).type(DenseType::q4).group(group).asymmetric(asym).Test(
          *GetParam());
      DenseGemmTester().m(34).n(18).k(3).type(DenseType::q4).group(group).asymmetric(asym).Test(
          *GetParam());
      DenseGemmTester().m(7).n(1).k(128).type(DenseType::q4).group(group).asymmetric(asym).bias(false).Test(
          *GetParam());
    }
  }
}

TEST_P(DenseGemm, GemvPathsMOneToFour) {
  for (size_t m = 1; m <= 4; ++m) {
    DenseGemmTester().m(m).n(100).k(320).type(DenseType::q8).Test(*GetParam());
    DenseGemmTester().m(m).n(100).k(320).type(DenseType::q4).group(32).Test(*GetParam());
    DenseGemmTester().m(m).n(100).k(320).type(DenseType::q4).group(128).asymmetric(true).Test(*GetParam());
  }
}

TEST_P(DenseGemm, Int8ExtremesAndQuantizerSaturation) {
  for (const Shape& s : {Shape{6, 35, 64}, Shape{33, 17, 130}, Shape{2, 5, 9}}) {
    DenseGemmTester().m(s.m).n(s.n).k(s.k).type(DenseType::q8).extremes(true).Test(*GetParam());
    DenseGemmTester().m(s.m).n(s.n).k(s.k).type(DenseType::q8).group(32).extremes(true).Test(*GetParam());
    DenseGemmTester().m(s.m).n(s.n).k(s.k).type(DenseType::q4).group(32).extremes(true).Test(*GetParam());
  }
}

// Headroom: a per-row q8 group of kMaxIntGroup columns at q = x = 127 sums to
// 127·127·65536 ≈ 1.06e9, and VNNI's biased form Σ(q+128)·x to 255·127·65536 ≈ 2.12e9,
// both below 2^31.
TEST_P(DenseGemm, LongKAccumulatorHeadroom) {
  DenseGemmTester().m(2).n(3).k(kMaxIntGroup).type(DenseType::q8).all_max(true).Test(*GetParam());
  DenseGemmTester().m(1).n(2).k(20000).type(DenseType::q8).Test(*GetParam());
}

TEST_P(DenseGemm, Q8EncoderBatchRowsIntoAlignedOutput) {
  // Hundreds of rows: row tiles of the largest kernels (AMX: 256) plus a ragged rest, and
  // a ragged last panel, written into the tester's 64-byte aligned Y (streamed lines).
  DenseGemmTester().m(300).n(70).k(96).type(DenseType::q8).Test(*GetParam());
}

TEST_P(DenseGemm, ThreadsOneAndDefaultBitwiseEqualOnWideOutputs) {
  // The tester checks 1 thread vs the default for every integer case; here n spans many
  // panels so each thread gets several.
  DenseGemmTester().m(37).n(300).k(96).type(DenseType::q8).Test(*GetParam());
  DenseGemmTester().m(2).n(300).k(96).type(DenseType::q4).group(32).Test(*GetParam());
}

// The config's activation quantizer gives the scalar definition's bytes, scale and sums
// exactly.
TEST_P(DenseGemm, QuantizerMatchesScalarBitwise) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (size_t k : {1, 5, 16, 33, 300}) {
    for (auto [group, stride] : {std::pair{k, (k + 3) / 4 * 4}, std::pair{size_t(3), size_t(4)},
                                 std::pair{size_t(32), size_t(64)}}) {
      std::vector<float> x(k);
      for (float& v : x) v = normal(rng);
      // Odd k: a row too small to scale (127 / max|x| overflows), which quantizes to zeros.
      if (k % 2) std::transform(x.begin(), x.end(), x.begin(), [](float v) { return v * 1e-37f; });
      const size_t groups = (k + group - 1) / group;
      const size_t bytes = groups * stride;
      std::vector<int8_t> qa(bytes, 99), qb(bytes, 99);
      std::vector<int32_t> sa(groups), sb(groups);
      float fa, fb;
      q8_quantize_row__ref(x.data(), k, group, stride, qa.data(), sa.data(), &fa);
      GetParam()->quantize_row(x.data(), k, group, stride, qb.data(), sb.data(), &fb);
      EXPECT_EQ(fa, fb);
      EXPECT_EQ(qa, qb) << "k=" << k << " group=" << group;
      if (k % 2) EXPECT_EQ(std::count(qa.begin(), qa.end(), 0), ptrdiff_t(bytes)) << "k=" << k;
      EXPECT_EQ(sa, sb);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, DenseGemm, testing::ValuesIn(configs_present()), config_test_name);

// The reference against plain double-precision matmul of decode_tensor's weights. f32 (and
// f16/bf16, whose decoded weights are the f32 values the reference multiplies):
// Σ|x·w| · k · 2^-24 bounds the f32 summation error. q8/q4: quantizing x moves each term
// by at most |w| · sx / 2, so |Δ| ≤ Σ|w| · sx / 2 (plus f32 rounding).
TEST(DenseGemmRef, MatchesDoublePrecisionMatmulOfDecodedWeights) {
  struct Case {
    DenseType type;
    size_t group;
    bool asym;
  };
  const size_t m = 5, n = 23, k = 300;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> w(n * k), x(m * k), bias(n);
  for (float& v : w) v = uni(rng);
  for (float& v : x) v = uni(rng);
  for (float& v : bias) v = uni(rng);
  for (const Case& c : {Case{DenseType::f32, 0, false}, Case{DenseType::f16, 0, false},
                        Case{DenseType::bf16, 0, false}, Case{DenseType::q8, 0, false},
                        Case{DenseType::q8, 64, false}, Case{DenseType::q4, 32, false},
                        Case{DenseType::q4, 128, true}}) {
    EncodedWeights e = encode_weights(w, n, k, c.type, c.group, c.asym);
    Result<std::vector<float>> decoded = formats::decode_tensor(e.tensor.desc, e.tensor.payload);
    ASSERT_TRUE(decoded.ok());
    std::vector<float> y(m * n);
    dense_gemm__ref(e.view, x.data(), m, bias.data(), y.data());
    for (size_t i = 0; i < m; ++i) {
      float amax = 0.0f;
      for (size_t cc = 0; cc < k; ++cc) amax = std::max(amax, std::fabs(x[i * k + cc]));
      const double sx = amax / 127.0;
      for (size_t j = 0; j < n; ++j) {
        double exact = bias[j], mag = std::fabs(bias[j]), wsum = 0.0;
        for (size_t cc = 0; cc < k; ++cc) {
          const double wv = (*decoded)[j * k + cc];
          exact += wv * x[i * k + cc];
          mag += std::fabs(wv * x[i * k + cc]);
          wsum += std::fabs(wv);
        }
        const double quant = dense_type_is_float(c.type) ? 0.0 : wsum * sx / 2;
        const double tol = quant * 1.001 + mag * 4e-6 + double(k) * 6e-8 * mag;
        ASSERT_NEAR(y[i * n + j], exact, tol) << "type " << int(c.type) << " row " << i << " col " << j;
      }
    }
  }
}

// The activation quantizer's rule (dense_gemm.h), checked on values whose codes are
// known: ±max map to ±127, half-way points round to even, padding is zero, sums add up.
TEST(DenseGemmRef, ActivationQuantizerRoundsSaturatesAndPads) {
  const float x[6] = {127.0f, -127.0f, 0.5f, 1.5f, -2.5f, 3.0f};  // scale exactly 1
  int8_t q[8];
  int32_t sums[2];
  float scale = 0.0f;
  q8_quantize_row__ref(x, 6, 3, 4, q, sums, &scale);
  EXPECT_EQ(scale, 1.0f);
  const int8_t expected[8] = {127, -127, 0, 0, 2, -2, 3, 0};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(q[i], expected[i]) << i;
  EXPECT_EQ(sums[0], 0);
  EXPECT_EQ(sums[1], 3);

  const float zeros[3] = {0.0f, 0.0f, 0.0f};
  q8_quantize_row__ref(zeros, 3, 3, 4, q, sums, &scale);
  EXPECT_EQ(scale, 0.0f);
  EXPECT_EQ(sums[0], 0);
}


TEST(DenseGemmPacking, RejectsGroupsBeyondAccumulatorHeadroom) {
  DenseWeightsView v;
  v.type = DenseType::q8;
  v.n = 1;
  v.k = kMaxIntGroup + 1;
  v.group = v.k;
  std::vector<float> scales(1);
  std::vector<uint8_t> values(v.k);
  v.scales = scales.data();
  v.values = values.data();
  Result<PackedDenseWeights> p = pack_dense_weights(v);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message().find("headroom"), std::string::npos) << p.error().message();
}

TEST(DenseGemmPacking, ViewRejectsSparseEncodingsNamingTheTensor) {
  std::vector<float> w = {0.0f, 1.0f, 2.0f, 0.0f};
  formats::EncodeOptions o;
  o.encoding = formats::Encoding::csr;
  Result<formats::EncodedTensor> enc = formats::encode_tensor("layer.w", {2, 2}, w, o);
  ASSERT_TRUE(enc.ok()) << enc.error().message();
  Result<DenseWeightsView> v = runtime::view_dense_weights(enc->desc, enc->payload);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message().find("layer.w"), std::string::npos) << v.error().message();
}

TEST(DenseGemmConfigTest, ChosenOnceForTheSelectedIsa) {
  const DenseGemmConfig& a = dense_gemm_config();
  EXPECT_EQ(&a, &dense_gemm_config());
  Result<Isa> isa = selected_isa();
  ASSERT_TRUE(isa.ok());
  Result<const DenseGemmConfig*> c = dense_gemm_config_for(*isa);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(&a, *c);
}

}  // namespace
}  // namespace sparq::kernels::test
