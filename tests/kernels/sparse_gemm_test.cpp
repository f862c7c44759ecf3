// Sparse matmul family: the scalar reference against decode_tensor() + a double-precision
// dense matmul (an independent reference), and every (ISA present, encoding) kernel and its
// packing against the reference — bitwise for q8, within an f32 rounding bound for f32 —
// over ragged shapes, empty rows, all-zero and fully dense matrices, int8 extremes and long K,
// M = 1 and M rows, 1 vs 2 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/tensor_codec.h"
#include "kernels/isa.h"
#include "kernels/ref/sparse_gemm__ref.h"
#include "kernels/sparse_gemm.h"
#include "kernels/threading.h"
#include "runtime/model/weight_views.h"

namespace sparq::kernels {
namespace {

using formats::Encoding;

struct Format {
  Encoding value_encoding;
  uint16_t block_rows = 0, block_cols = 0;  // 0: csr
  std::string name() const {
    std::string v = value_encoding == Encoding::q8 ? "q8" : "f32";
    if (!block_rows) return "csr_" + v;
    return "bsr_" + v + "_" + std::to_string(block_rows) + "x" + std::to_string(block_cols);
  }
  bool bsr() const { return block_rows != 0; }
};

const Format kFormats[] = {
    {Encoding::f32},         {Encoding::q8},          {Encoding::q8, 1, 4},
    {Encoding::q8, 1, 8},    {Encoding::q8, 4, 1},    {Encoding::q8, 8, 1},
    {Encoding::q8, 16, 1},   {Encoding::q8, 4, 4},    {Encoding::q8, 2, 3},
};

// A dense N x K matrix whose zeros follow `density` per element (csr) or per block (bsr),
// with every `empty_every`-th row (or block row) left empty.
std::vector<float> random_weights(const Format& f, size_t n, size_t k, double density,
                                  size_t empty_every, std::mt19937& rng) {
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::bernoulli_distribution keep(density);
  std::vector<float> w(n * k, 0.0f);
  const size_t br = f.bsr() ? f.block_rows : 1, bc = f.bsr() ? f.block_cols : 1;
  for (size_t r0 = 0; r0 < n; r0 += br) {
    if (empty_every && (r0 / br) % empty_every == 1) continue;
    for (size_t c0 = 0; c0 < k; c0 += bc) {
      if (!keep(rng)) continue;
      for (size_t r = r0; r < std::min(n, r0 + br); ++r)
        for (size_t c = c0; c < std::min(k, c0 + bc); ++c) w[r * k + c] = value(rng);
    }
  }
  return w;
}

formats::EncodedTensor encode(const Format& f, size_t n, size_t k, const std::vector<float>& w) {
  formats::EncodeOptions o;
  o.encoding = f.bsr() ? Encoding::bsr : Encoding::csr;
  o.value_encoding = f.value_encoding;
  o.block_rows = f.block_rows;
  o.block_cols = f.block_cols;
  auto e = formats::encode_tensor("w", {n, k}, w, o);
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message());
  return std::move(e.value());
}

std::vector<float> random_activations(size_t m, size_t k, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> x(m * k);
  for (auto& v : x) v = d(rng);
  return x;
}

std::vector<float> random_bias(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> b(n);
  for (auto& v : b) v = d(rng);
  return b;
}

// --- The reference against decode_tensor + double-precision dense matmul ----------------

// Σ_k |a_k b_k| and Σ_k a_k b_k in double.
struct DotD {
  double dot = 0, abs = 0;
};

// q8: the reference quantizes X; check the result against the unquantized product within
// the quantization bound Σ|w|·scale_x/2, and against the product with X replaced by its
// own quantized values (independently rounded here) within f32 rounding.
void check_ref_against_dense(const Format& f, size_t m, size_t n, size_t k, double density,
                             uint32_t seed) {
  std::mt19937 rng(seed);
  auto w = random_weights(f, n, k, density, 3, rng);
  auto enc = encode(f, n, k, w);
  auto decoded = formats::decode_tensor(enc.desc, enc.payload);
  ASSERT_TRUE(decoded.ok());
  const auto& wd = *decoded;
  auto view = runtime::view_sparse_weights(enc.desc, enc.payload);
  ASSERT_TRUE(view.ok()) << view.error().message();
  auto x = random_activations(m, k, rng);
  auto bias = random_bias(n, rng);
  std::vector<float> y(m * n);
  sparse_gemm__ref(*view, x.data(), m, bias.data(), y.data());
  for (size_t i = 0; i < m; ++i) {
    const float* xr = x.data() + i * k;
    double amax = 0;
    for (size_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(double(xr[c])));
    const double xs = amax / 127;
    for (size_t j = 0; j < n; ++j) {
      DotD exact, quant;
      double wabs = 0;
      for (size_t c = 0; c < k; ++c) {
        const double wv = wd[j * k + c];
        exact.dot += wv * xr[c];
        exact.abs += std::fabs(wv * xr[c]);
        wabs += std::fabs(wv);
        if (f.value_encoding == Encoding::q8 && amax > 0) {
          const double q = std::nearbyint(double(xr[c]) * 127 / amax);
          quant.dot += wv * q * xs;
          quant.abs += std::fabs(wv * q * xs);
        }
      }
      const double got = y[i * n + j] - double(bias[j]);
      const double tol_f32 = 1e-5 * (exact.abs + std::fabs(bias[j])) + 1e-6;
      if (f.value_encoding == Encoding::f32) {
        ASSERT_NEAR(got, exact.dot, tol_f32) << f.name() << " m=" << i << " n=" << j;
      } else {
        ASSERT_NEAR(got, exact.dot, wabs * xs / 2 + tol_f32) << f.name() << " m=" << i << " n=" << j;
        ASSERT_NEAR(got, quant.dot, 1e-5 * (quant.abs + std::fabs(bias[j])) + 1e-6)
            << f.name() << " m=" << i << " n=" << j;
      }
    }
  }
}

TEST(SparseGemmRef, MatchesDecodedDenseDoubleMatmul) {
  uint32_t seed = 1;
  for (const Format& f : kFormats) {
    for (double density : {0.0, 0.1, 0.5, 1.0}) {
      SCOPED_TRACE(f.name() + " density " + std::to_string(density));
      check_ref_against_dense(f, 3, 37, 53, density, seed++);
      check_ref_against_dense(f, 2, 16, 4, density, seed++);
      check_ref_against_dense(f, 1, 1, 1, density, seed++);
    }
  }
}

TEST(SparseGemmRef, ActivationQuantizationWithinHalfStep) {
  std::mt19937 rng(7);
  for (size_t k : {1, 5, 64, 1000}) {
    auto x = random_activations(1, k, rng);
    std::vector<int8_t> q(k);
    const float s = quantize_row_q8__ref(x.data(), k, q.data());
    double amax = 0;
    for (float v : x) amax = std::max(amax, std::fabs(double(v)));
    EXPECT_NEAR(s, amax / 127, amax * 1e-7);
    int qmax = 0;
    for (size_t c = 0; c < k; ++c) {
      EXPECT_LE(std::abs(q[c]), 127);
      EXPECT_LE(std::fabs(q[c] * double(s) - x[c]), s / 2 * (1 + 1e-5));
      qmax = std::max(qmax, std::abs(int(q[c])));
    }
    EXPECT_EQ(qmax, 127);
  }
  std::vector<float> zeros(9, 0.0f);
  std::vector<int8_t> q(9, 1);
  EXPECT_EQ(quantize_row_q8__ref(zeros.data(), 9, q.data()), 0.0f);
  for (int8_t v : q) EXPECT_EQ(v, 0);
}

TEST(SparseGemmRef, RejectsDenseAndUnsupportedEncodings) {
  std::vector<float> w(8, 1.0f);
  formats::EncodeOptions o;
  o.encoding = Encoding::q8;
  auto dense = formats::encode_tensor("layer.w", {2, 4}, w, o);
  ASSERT_TRUE(dense.ok());
  auto packed = runtime::pack_sparse_weight(dense->desc, dense->payload, sparse_gemm_config_for(Isa::ref));
  ASSERT_FALSE(packed.ok());
  EXPECT_NE(packed.error().message().find("layer.w"), std::string::npos);
  o.encoding = Encoding::bsr;
  o.value_encoding = Encoding::f32;
  o.block_rows = 1;
  o.block_cols = 4;
  auto bsr_f32 = formats::encode_tensor("layer.w", {2, 4}, w, o);
  ASSERT_TRUE(bsr_f32.ok());
  EXPECT_FALSE(runtime::pack_sparse_weight(bsr_f32->desc, bsr_f32->payload, sparse_gemm_config_for(Isa::ref)).ok());
}

// --- Every ISA's kernels and packing against the reference -----------------------------

struct KernelCase {
  Isa isa;
  Format format;
  std::string name;
};

bool has_kernel(const SparseGemmConfig& c, const Format& f) {
  if (f.value_encoding == Encoding::f32) return c.f32_spmm && c.f32_spmv;
  return c.q8_spmm_1x4 && c.q8_spmm_4x4 && c.q8_spmv_1x4 && c.q8_spmv_4x4;
}

std::vector<KernelCase> kernel_cases() {
  std::vector<KernelCase> cases;
  for (Isa isa : supported_isas(cpu_info().features)) {
    if (isa == Isa::ref) continue;
    const SparseGemmConfig c = sparse_gemm_config_for(isa);
    for (const Format& f : kFormats) {
      if (!has_kernel(c, f) || (f.bsr() && f.value_encoding == Encoding::f32)) continue;
      std::string name = std::string(isa_name(isa)) + "_" + f.name();
      std::replace(name.begin(), name.end(), '-', '_');  // "neon-dotprod": not a test name
      cases.push_back({isa, f, name});
    }
  }
  return cases;
}

void PrintTo(const KernelCase& c, std::ostream* os) { *os << c.name; }

class SparseGemmKernel : public testing::TestWithParam<KernelCase> {
 protected:
  // Runs the kernel on 1 and on 2 threads and the reference; q8 must match the reference
  // bit for bit, f32 within f32 rounding of a reordered sum; both thread counts bitwise.
  void check(size_t m, size_t n, size_t k, double density, size_t empty_every, uint32_t seed,
             bool with_bias = true) {
    const KernelCase& kc = GetParam();
    SCOPED_TRACE(kc.name + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
                 " k=" + std::to_string(k) + " density=" + std::to_string(density));
    std::mt19937 rng(seed);
    auto w = random_weights(kc.format, n, k, density, empty_every, rng);
    auto enc = encode(kc.format, n, k, w);
    auto x = random_activations(m, k, rng);
    auto bias = random_bias(n, rng);
    run(enc, x, m, with_bias ? bias.data() : nullptr);
  }

  void run(const formats::EncodedTensor& enc, const std::vector<float>& x, size_t m,
           const float* bias) {
    const KernelCase& kc = GetParam();
    const size_t n = enc.desc.rows(), k = enc.desc.cols();
    auto packed = runtime::pack_sparse_weight(enc.desc, enc.payload, sparse_gemm_config_for(kc.isa));
    ASSERT_TRUE(packed.ok()) << packed.error().message();
    // The case is only instantiated where the config has a kernel: it must not fall back.
    ASSERT_EQ(packed->describe().find("reference"), std::string::npos) << packed->describe();
    auto view = runtime::view_sparse_weights(enc.desc, enc.payload);
    ASSERT_TRUE(view.ok());
    std::vector<float> want(m * n), one(m * n, NAN), two(m * n, NAN);
    sparse_gemm__ref(*view, x.data(), m, bias, want.data());
    set_num_threads(1);
    sparse_gemm(*packed, x.data(), m, bias, one.data());
    set_num_threads(2);
    sparse_gemm(*packed, x.data(), m, bias, two.data());
    set_num_threads(0);
    ASSERT_EQ(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)), 0)
        << "1 vs 2 threads differ";
    const bool q8 = kc.format.value_encoding == Encoding::q8;
    for (size_t i = 0; i < m; ++i) {
      for (size_t j = 0; j < n; ++j) {
        const float got = one[i * n + j], ref = want[i * n + j];
        if (q8) {
          ASSERT_EQ(got, ref) << "m=" << i << " n=" << j;
        } else {
          double mag = 0;  // Σ|w·x| bounds the reordering error
          const auto* v = static_cast<const float*>(view->values);
          for (uint64_t e = view->row_begin(j); e < view->row_end(j); ++e)
            mag += std::fabs(double(v[e]) * x[i * k + view->col_at(e)]);
          ASSERT_NEAR(got, ref, 1e-5 * (mag + (bias ? std::fabs(bias[j]) : 0)) + 1e-30)
              << "m=" << i << " n=" << j;
        }
      }
    }
  }
};

TEST_P(SparseGemmKernel, RaggedShapesSingleRow) {
  uint32_t seed = 100;
  for (size_t k : {1, 3, 4, 17, 64, 131})
    for (size_t n : {1, 5, 16, 37})
      for (double d : {0.1, 0.6}) check(1, n, k, d, 3, seed++);
}

TEST_P(SparseGemmKernel, RaggedShapesFewRows) {
  uint32_t seed = 200;
  for (size_t m : {2, 7, 15}) check(m, 45, 70, 0.3, 4, seed++);
}

TEST_P(SparseGemmKernel, RaggedShapesManyRows) {
  uint32_t seed = 300;
  for (size_t m : {16, 63, 64, 65, 130})
    for (size_t n : {1, 17, 48})
      for (size_t k : {1, 5, 33, 260}) check(m, n, k, 0.25, 3, seed++, m != 65);
}

TEST_P(SparseGemmKernel, AllZeroAndFullyDense) {
  for (double d : {0.0, 1.0}) {
    check(1, 33, 77, d, 0, 400);
    check(70, 33, 77, d, 0, 401);
  }
}

TEST_P(SparseGemmKernel, ThreadSplitAcrossOutputRows) {
  check(1, 300, 96, 0.2, 5, 500);
  check(80, 300, 96, 0.2, 5, 501);
}

// int8 extremes: every stored weight -128 or 127 (patched into the payload; decoders accept
// -128), activations at ±max so q = ±127, long K: |Σ| reaches K·127·128 (K = 8184 here,
// int32 headroom holds to K = 132104), and the u8 offset path wraps and unwraps.
TEST_P(SparseGemmKernel, Int8ExtremesLongK) {
  const KernelCase& kc = GetParam();
  const size_t n = 32, k = 8184;  // a multiple of every block width: no edge blocks to keep zero
  if (kc.format.value_encoding != Encoding::q8) return check(3, n, k, 1.0, 0, 601);
  std::mt19937 rng(600);
  auto w = random_weights(kc.format, n, k, 1.0, 0, rng);
  auto enc = encode(kc.format, n, k, w);
  auto layout = formats::compute_layout(enc.desc);
  ASSERT_TRUE(layout.ok());
  auto* q = reinterpret_cast<int8_t*>(enc.payload.data() + layout->values.offset);
  for (size_t i = 0; i < layout->values.size; ++i) q[i] = (i / 7) % 2 ? int8_t(-128) : int8_t(127);
  for (size_t m : {1, 20}) {
    std::vector<float> x(m * k);
    for (size_t i = 0; i < x.size(); ++i) x[i] = (i / 5) % 2 ? 3.0f : -3.0f;
    for (size_t c = 0; c < k; ++c) x[c] = c % 2 ? 3.0f : -3.0f;  // sign mix in the first row
    run(enc, x, m, nullptr);
  }
}

// The fused FFN (up, f, down with the intermediate kept in cache; q8 weights only) against
// the two sparse_gemm calls it replaces, bit for bit: ragged last panels, rows per thread
// that split evenly and ones that need the 4-panels-per-thread rule, 1 and 2 threads.
class SparseFfnKernel : public testing::TestWithParam<KernelCase> {};

std::vector<KernelCase> q8_kernel_cases() {
  std::vector<KernelCase> cases = kernel_cases();
  std::erase_if(cases, [](const KernelCase& c) { return c.format.value_encoding != Encoding::q8; });
  return cases;
}

TEST_P(SparseFfnKernel, FusedFfnMatchesTwoMatmuls) {
  const KernelCase& kc = GetParam();
  constexpr size_t k = 50, n1 = 80, n2 = 33;
  std::mt19937 rng(700);
  auto up_enc = encode(kc.format, n1, k, random_weights(kc.format, n1, k, 0.3, 0, rng));
  auto down_enc = encode(kc.format, n2, n1, random_weights(kc.format, n2, n1, 0.3, 0, rng));
  const SparseGemmConfig config = sparse_gemm_config_for(kc.isa);
  auto up = runtime::pack_sparse_weight(up_enc.desc, up_enc.payload, config);
  auto down = runtime::pack_sparse_weight(down_enc.desc, down_enc.payload, config);
  ASSERT_TRUE(up.ok() && down.ok());
  auto up_bias = random_bias(n1, rng), down_bias = random_bias(n2, rng);
  const InputTransform leaky = [](size_t n, const float* x, float* y) {
    for (size_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.125f * x[i];
  };
  const size_t P = config.q8_panel_rows;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (size_t m : {P, 2 * P, 3 * P - 5, 8 * P + 7}) {
      SCOPED_TRACE(kc.name + " threads=" + std::to_string(threads) + " m=" + std::to_string(m));
      const size_t panels = (m + P - 1) / P;
      const bool fuses = panels % threads == 0 || panels >= 4 * size_t(threads);
      ASSERT_EQ(sparse_ffn_fuses(*up, *down, m), fuses);
      if (!fuses) continue;
      auto x = random_activations(m, k, rng);
      std::vector<float> mid(m * n1), want(m * n2, NAN), got(m * n2, NAN);
      sparse_gemm(*up, x.data(), m, up_bias.data(), mid.data());
      sparse_gemm(*down, mid.data(), m, down_bias.data(), want.data(), leaky);
      sparse_ffn(*up, up_bias.data(), *down, down_bias.data(), leaky, x.data(), m, got.data());
      ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
    }
  }
  set_num_threads(0);
}

INSTANTIATE_TEST_SUITE_P(Isa, SparseGemmKernel, testing::ValuesIn(kernel_cases()),
                         [](const testing::TestParamInfo<KernelCase>& i) { return i.param.name; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SparseGemmKernel);
INSTANTIATE_TEST_SUITE_P(Isa, SparseFfnKernel, testing::ValuesIn(q8_kernel_cases()),
                         [](const testing::TestParamInfo<KernelCase>& i) { return i.param.name; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SparseFfnKernel);

// Every ISA's activation panel packer against pack_q8_panel__ref, byte for byte: ragged K,
// partial and empty panels, the single-row layout, an all-zero row, a row of exact rounding
// ties and a row too small to scale (127 / max|x| overflows: once ±127 or undefined behaviour
// in the reference and -127 in the AVX-512 packer; now zeros everywhere).
TEST(SparseGemmPanels, Q8PackerMatchesReferenceBitwise) {
  std::mt19937 rng(11);
  for (Isa isa : supported_isas(cpu_info().features)) {
    const SparseGemmConfig c = sparse_gemm_config_for(isa);
    for (size_t k : {1, 3, 4, 7, 8, 9, 31, 64, 193, 768}) {
      for (auto [rows, panel_rows] : {std::pair<size_t, size_t>{1, 1}, {0, 1}, {3, 16}, {16, 16},
                                      {5, 32}, {32, 32}, {0, 64}, {40, 64}}) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " k=" + std::to_string(k) +
                     " rows=" + std::to_string(rows) + " panel_rows=" + std::to_string(panel_rows));
        auto x = random_activations(std::max<size_t>(rows, 1), k, rng);
        if (rows > 1) std::fill(x.begin() + k, x.begin() + 2 * k, 0.0f);  // row 1 all zero
        if (rows > 2) {  // amax 127 makes the scale 1, so x.5 values are exact rounding ties
          for (size_t i = 0; i < k; ++i) x[2 * k + i] = float(int(i % 7) - 3) + 0.5f;
          x[2 * k] = 127.0f;
        }
        if (rows > 3)
          for (size_t i = 0; i < k; ++i) x[3 * k + i] = float(int(i % 5) - 2) * 1e-37f;
        const size_t bytes = (k + 3) / 4 * 4 * panel_rows;
        std::vector<uint8_t> want(bytes, 1), got(bytes, 2);
        std::vector<float> want_s(panel_rows, 1.0f), got_s(panel_rows, 2.0f);
        pack_q8_panel__ref(x.data(), rows, k, panel_rows, want.data(), want_s.data());
        c.pack_q8_panel(x.data(), rows, k, panel_rows, got.data(), got_s.data());
        for (size_t q = 0; rows > 3 && q < (k + 3) / 4; ++q)
          for (size_t j = 0; j < 4; ++j) ASSERT_EQ(want[(q * panel_rows + 3) * 4 + j], 0x80) << "quad " << q;
        ASSERT_EQ(want, got);
        ASSERT_EQ(want_s, got_s);
      }
    }
  }
}

}  // namespace
}  // namespace sparq::kernels
