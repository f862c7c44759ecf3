// Builder-style tester for the dense-GEMM family (after XNNPACK's GemmMicrokernelTester):
//   DenseGemmTester().m(5).n(33).k(130).type(DenseType::q4).group(32).Test(config);
// encodes random weights with the formats codecs, runs the config's packing + kernels and
// compares with the scalar reference kernels/ref/dense_gemm__ref.h within a bound derived
// from the magnitudes involved; integer kernels must also be bitwise identical at 1
// thread and at the default thread count (OMP_NUM_THREADS or the CPU count; the tester
// does not force more threads than that, since some emulators cannot start threads).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/tensor_codec.h"
#include "kernels/dense_gemm.h"
#include "kernels/dense_gemm_config.h"
#include "kernels/pack_dense.h"
#include "kernels/ref/dense_gemm__ref.h"
#include "kernels/threading.h"
#include "runtime/model/weight_views.h"

namespace sparq::kernels::test {

// A weight matrix encoded by the formats codecs, with its view for the kernels.
struct EncodedWeights {
  formats::EncodedTensor tensor;
  DenseWeightsView view;
};

inline EncodedWeights encode_weights(const std::vector<float>& w, size_t n, size_t k,
                                     DenseType type, size_t group, bool asymmetric) {
  formats::EncodeOptions o;
  switch (type) {
    case DenseType::f32: o.encoding = formats::Encoding::f32; break;
    case DenseType::f16: o.encoding = formats::Encoding::f16; break;
    case DenseType::bf16: o.encoding = formats::Encoding::bf16; break;
    case DenseType::q8: o.encoding = formats::Encoding::q8; break;
    case DenseType::q4: o.encoding = formats::Encoding::q4; break;
  }
  o.group_size = uint32_t(group);
  o.asymmetric = asymmetric;
  Result<formats::EncodedTensor> enc = formats::encode_tensor("w", {n, k}, w, o);
  EXPECT_TRUE(enc.ok()) << enc.error().message();
  EncodedWeights e{std::move(*enc), {}};
  Result<DenseWeightsView> v = runtime::view_dense_weights(e.tensor.desc, e.tensor.payload);
  EXPECT_TRUE(v.ok()) << v.error().message();
  e.view = *v;
  return e;
}

class DenseGemmTester {
 public:
  DenseGemmTester& m(size_t v) { m_ = v; return *this; }
  DenseGemmTester& n(size_t v) { n_ = v; return *this; }
  DenseGemmTester& k(size_t v) { k_ = v; return *this; }
  DenseGemmTester& type(DenseType v) { type_ = v; return *this; }
  DenseGemmTester& group(size_t v) { group_ = v; return *this; }  // 0: per row (q8)
  DenseGemmTester& asymmetric(bool v) { asymmetric_ = v; return *this; }
  DenseGemmTester& bias(bool v) { bias_ = v; return *this; }
  DenseGemmTester& seed(uint32_t v) { seed_ = v; return *this; }
  // int8 extremes: weights at ±max (q = ±127) with some stored as −128, and activation
  // rows whose outliers saturate the quantizer (|q| = 127, small values rounding to 0).
  // f16/bf16: weights across the format's range, its largest finite values, subnormals
  // (which the SIMD widening must keep, not flush) and signed zeros.
  DenseGemmTester& extremes(bool v) { extremes_ = v; return *this; }
  // Every weight and activation equal and positive: the largest int32 sums a group can
  // produce (for the headroom test).
  DenseGemmTester& all_max(bool v) { all_max_ = v; return *this; }

  void Test(const DenseGemmConfig& config) const {
    SCOPED_TRACE(describe(config));
    std::mt19937 rng(seed_);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    std::vector<float> w(n_ * k_), x(m_ * k_), b(n_);
    for (float& v : w) v = all_max_ ? 1.0f : uni(rng);
    for (float& v : x) v = all_max_ ? 1.0f : uni(rng);
    for (float& v : b) v = uni(rng);
    if (extremes_) {
      if (dense_type_is_float(type_)) {
        make_half_extremes(w, rng);
      } else {
        make_extreme(w, x, rng);
      }
    }
    EncodedWeights e = encode_weights(w, n_, k_, type_, group_, asymmetric_);
    if (extremes_ && type_ == DenseType::q8) store_minus_128(e, rng);
    const float* bias = bias_ ? b.data() : nullptr;

    std::vector<float> expected(m_ * n_);
    dense_gemm__ref(e.view, x.data(), m_, bias, expected.data());
    Result<PackedDenseWeights> packed = pack_dense_weights(e.view, config);
    ASSERT_TRUE(packed.ok()) << packed.error().message();

    // 64-byte aligned outputs, as kernels may stream whole aligned lines.
    AlignedArray<float> y1(m_ * n_), y2(m_ * n_);
    std::fill_n(y1.data(), y1.size(), NAN);
    std::fill_n(y2.data(), y2.size(), NAN);
    set_num_threads(1);
    dense_matmul(*packed, x.data(), m_, bias, y1.data());
    set_num_threads(0);
    dense_matmul(*packed, x.data(), m_, bias, y2.data());

    // |error| ≤ 1e-5 · (Σ|x·w| + |bias|): both sides sum the same exact integer (or
    // f32) terms and differ only in f32 rounding of their combination; plus 2^-149 per
    // term, the absolute step of products that fall into f32's subnormal range.
    std::vector<float> decoded = decode(e);
    for (size_t i = 0; i < m_; ++i) {
      for (size_t j = 0; j < n_; ++j) {
        double mag = bias ? std::fabs(bias[j]) : 0.0;
        for (size_t c = 0; c < k_; ++c) mag += std::fabs(double(x[i * k_ + c]) * decoded[j * k_ + c]);
        const double tol = 1e-5 * mag + double(k_) * 0x1p-149;
        ASSERT_NEAR(y1[i * n_ + j], expected[i * n_ + j], tol) << "at row " << i << " col " << j;
      }
    }
    if (!dense_type_is_float(type_)) {
      EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)))
          << "integer kernel differs between 1 and " << num_threads() << " threads";
    }
  }

  std::string describe(const DenseGemmConfig& config) const {
    return std::string(config.name) + " " + std::string(dense_type_name(type_)) + " m=" + std::to_string(m_) + " n=" +
           std::to_string(n_) + " k=" + std::to_string(k_) + " group=" + std::to_string(group_) +
           (asymmetric_ ? " asym" : "") + (extremes_ ? " extremes" : "");
  }

 private:
  static std::vector<float> decode(const EncodedWeights& e) {
    Result<std::vector<float>> d = formats::decode_tensor(e.tensor.desc, e.tensor.payload);
    EXPECT_TRUE(d.ok()) << d.error().message();
    return d.ok() ? *d : std::vector<float>(e.view.n * e.view.k);
  }

  // Rows of values the type holds exactly (the encoder keeps them as they are): the largest
  // finite magnitudes; subnormals only, so that flushing them would lose the whole output
  // (bf16's are f32 subnormals); and signed zeros among ordinary values.
  void make_half_extremes(std::vector<float>& w, std::mt19937& rng) const {
    const bool f16 = type_ == DenseType::f16;
    const float largest = f16 ? 65504.0f : 0x1.fep+110f;
    const float subnormals[] = {f16 ? 0x1p-24f : 0x1p-133f, f16 ? 0x1.ff8p-15f : 0x1.fcp-127f};
    for (size_t row = 0; row < n_; ++row) {
      for (size_t c = 0; c < k_; ++c) {
        float& v = w[row * k_ + c];
        const float sign = rng() % 2 ? 1.0f : -1.0f;
        switch (row % 3) {
          case 0: v = sign * largest; break;
          case 1: v = sign * subnormals[rng() % 2]; break;
          default: v = rng() % 4 == 0 ? sign * 0.0f : v; break;
        }
      }
    }
  }

  void make_extreme(std::vector<float>& w, std::vector<float>& x, std::mt19937& rng) const {
    std::bernoulli_distribution coin(0.5);
    for (float& v : w) v = coin(rng) ? 1.0f : -1.0f;  // every q at ±127
    for (size_t i = 0; i < m_; ++i) {
      float* row = x.data() + i * k_;
      if (i % 2 == 0) {
        for (size_t c = 0; c < k_; ++c) row[c] = coin(rng) ? 3.0f : -3.0f;  // q = ±127
      } else {
        row[(i * 7) % k_] = 1e4f;  // one outlier: everything else rounds to 0
      }
    }
  }

  // q = −128 is legal in a q8 payload (decoders accept it) though encoders never write it.
  void store_minus_128(EncodedWeights& e, std::mt19937& rng) const {
    Result<formats::TensorLayout> l = formats::compute_layout(e.tensor.desc);
    ASSERT_TRUE(l.ok());
    auto* q = reinterpret_cast<int8_t*>(e.tensor.payload.data() + l->values.offset);
    for (size_t i = 0; i < n_ * k_; ++i) {
      if (rng() % 3 == 0) q[i] = -128;
    }
  }

  size_t m_ = 1, n_ = 1, k_ = 1, group_ = 0;
  DenseType type_ = DenseType::f32;
  bool asymmetric_ = false, bias_ = true, extremes_ = false, all_max_ = false;
  uint32_t seed_ = 1;
};

}  // namespace sparq::kernels::test
