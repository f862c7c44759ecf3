// The bitmap kernels (kernels/bitmap_gemm.h): the scalar reference against an independent
// double-precision product of the decoded weights (formats' decode_tensor) with the
// quantized activations, and every ISA level this CPU runs against the reference (the
// scalar 4x1 kernel) bit for bit (integer accumulation, the same fused multiply-adds), on 1
// and 2 threads, through both of bitmap_matmul's paths at every m: the 4x1 kernels and the
// expand + expanded-GEMM pair, each forced, and the one the config picks.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <string>

#include "formats/tensor_codec.h"
#include "kernels/bitmap_gemm.h"
#include "kernels/threading.h"

namespace sparq::kernels {
namespace {

using formats::Encoding;

struct Case {
  size_t m, n, k, group;
  double sparsity;
  BitmapValues values;
};

std::string describe(const Case& c) {
  return "m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) +
         " g=" + std::to_string(c.group) + " sparsity=" + std::to_string(c.sparsity) +
         (c.values == BitmapValues::q4 ? " q4" : " q8");
}

// Random weights with `sparsity` of them zero, every third row empty and, in the others,
// the second 32-column word all zero.
std::vector<float> pruned_weights(const Case& c, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::bernoulli_distribution keep(1.0 - c.sparsity);
  std::vector<float> w(c.n * c.k);
  for (size_t r = 0; r < c.n; ++r)
    for (size_t col = 0; col < c.k; ++col) {
      const bool dropped = r % 3 == 2 || (col >= 32 && col < 64) || !keep(rng);
      w[r * c.k + col] = dropped ? 0.0f : normal(rng);
    }
  return w;
}

struct Encoded {
  formats::EncodedTensor t;
  formats::TensorLayout l;
  BitmapWeightsView view(const Case& c) const {
    BitmapWeightsView v;
    v.type = c.values;
    v.n = c.n, v.k = c.k, v.group = c.group, v.nnz = t.desc.count;
    v.row_ptr = t.payload.data() + l.row_ptr.offset;
    v.row_ptr_width = l.row_ptr_width;
    v.masks = reinterpret_cast<const uint32_t*>(t.payload.data() + l.masks.offset);
    v.scales = reinterpret_cast<const float*>(t.payload.data() + l.scales.offset);
    v.values = t.payload.data() + l.values.offset;
    return v;
  }
};

Encoded encode(const Case& c, const std::vector<float>& w) {
  formats::EncodeOptions o;
  o.encoding = Encoding::bitmap;
  o.value_encoding = c.values == BitmapValues::q4 ? Encoding::q4 : Encoding::q8;
  o.group_size = static_cast<uint32_t>(c.group);
  Result<formats::EncodedTensor> t = formats::encode_tensor("w", {c.n, c.k}, w, o);
  EXPECT_TRUE(t.ok()) << t.error().message();
  const formats::TensorLayout layout = *formats::compute_layout(t->desc);
  return {std::move(*t), layout};
}

std::vector<float> run(const BitmapWeightsView& v, const BitmapGemmConfig& config,
                       const std::vector<float>& x, size_t m, const float* bias) {
  Result<PackedBitmapWeights> p = pack_bitmap_weights(v, config);
  EXPECT_TRUE(p.ok()) << p.error().message();
  std::vector<float> y(m * v.n, -1.0f);
  bitmap_matmul(*p, x.data(), m, bias, y.data());
  return y;
}

std::vector<float> run(const BitmapWeightsView& v, Isa isa, const std::vector<float>& x,
                       size_t m, const float* bias) {
  return run(v, bitmap_gemm_config_for(isa), x, m, bias);
}

// The config with bitmap_matmul's path forced: the 4x1 kernels at every m, or the expanded
// GEMM at every m.
BitmapGemmConfig by_4x1(BitmapGemmConfig c) {
  c.expanded.expand_min_m = SIZE_MAX;
  return c;
}
BitmapGemmConfig expanded(BitmapGemmConfig c) {
  c.expanded.expand_min_m = 0;
  return c;
}

// Every kernel set this CPU runs: each level's config, and where the CPU has VBMI2 (which
// the VNNI configs then use) the same levels without it; each as chosen by m and with
// either path forced.
struct NamedConfig {
  std::string name;
  BitmapGemmConfig config;
};
std::vector<NamedConfig> kernel_configs() {
  std::vector<NamedConfig> levels;
  CpuFeatures no_vbmi2 = cpu_info().features;
  no_vbmi2.avx512vbmi = no_vbmi2.avx512vbmi2 = false;
  for (Isa isa : supported_isas(cpu_info().features)) {
    levels.push_back({std::string(isa_name(isa)), bitmap_gemm_config_for(isa)});
    if (cpu_info().features.avx512vbmi2)
      levels.push_back({std::string(isa_name(isa)) + " without vbmi2",
                        bitmap_gemm_config_for(isa, no_vbmi2)});
  }
  std::vector<NamedConfig> out;
  for (const NamedConfig& l : levels) {
    out.push_back(l);
    out.push_back({l.name + ", 4x1 forced", by_4x1(l.config)});
    out.push_back({l.name + ", expanded forced", expanded(l.config)});
  }
  return out;
}

std::vector<Case> cases() {
  struct Shape {
    size_t n, k, group;
  };
  const Shape shapes[] = {
      {37, 100, 32},    // k not a multiple of 32 or g
      {9, 1, 32},       // one column
      {3, 257, 64},     // odd k, partial group; fewer rows than a tile
      {16, 640, 128},   // 5 groups: a partial lane block
      {11, 1100, 32},   // 35 groups
  };
  std::vector<Case> out;
  for (BitmapValues values : {BitmapValues::q8, BitmapValues::q4}) {
    for (double sparsity : {0.0, 0.5, 0.7, 1.0}) {
      for (const Shape& s : shapes)
        for (size_t m : {1, 3, 4, 5, 8, 17, 64})
          out.push_back({m, s.n, s.k, s.group, sparsity, values});
      // A decoder row, 64 groups (fewer m: the scalar reference under qemu is slow).
      for (size_t m : {1, 17}) out.push_back({m, 64, 2048, 32, sparsity, values});
    }
    // Weight rows past one expanded block (kernels/bitmap_gemm.cpp's kExpandedBlockBytes).
    out.push_back({17, 300, 2048, 32, 0.5, values});
  }
  // q8 groups the 64-column kernels cannot pair: 3 words (a group splits a step), and one
  // group per row of an odd number of words.
  for (size_t m : {1, 2, 5})
    for (const Shape& s : {Shape{7, 300, 96}, Shape{5, 1056, 1056}})
      out.push_back({m, s.n, s.k, s.group, 0.6, BitmapValues::q8});
  return out;
}

TEST(BitmapGemmRef, MatchesDecodedWeightsTimesQuantizedActivations) {
  std::mt19937 rng(5);
  for (const Case& c : cases()) {
    SCOPED_TRACE(describe(c));
    const std::vector<float> w = pruned_weights(c, rng);
    const Encoded e = encode(c, w);
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    std::vector<float> x(c.m * c.k), bias(c.n);
    for (float& v : x) v = u(rng);
    for (float& v : bias) v = u(rng);
    const std::vector<float> y = run(e.view(c), Isa::ref, x, c.m, bias.data());
    const std::vector<float> dequantized = *formats::decode_tensor(e.t.desc, e.t.payload);
    const size_t groups = (c.k + c.group - 1) / c.group;
    std::vector<int8_t> q(groups * c.group);
    std::vector<int32_t> sums(groups);
    for (size_t i = 0; i < c.m; ++i) {
      float sx = 0;
      q8_quantize_row__ref(x.data() + i * c.k, c.k, c.group, c.group, q.data(), sums.data(), &sx);
      for (size_t r = 0; r < c.n; ++r) {
        double expected = bias[r], magnitude = std::fabs(bias[r]);
        for (size_t col = 0; col < c.k; ++col) {
          const double term = double(dequantized[r * c.k + col]) * sx * q[col];
          expected += term;
          magnitude += std::fabs(term);
        }
        EXPECT_NEAR(y[i * c.n + r], expected, 1e-5 * magnitude + 1e-30) << "row " << i << " out " << r;
      }
    }
  }
}

TEST(BitmapGemmKernels, EveryLevelMatchesTheReferenceBitForBit) {
  std::mt19937 rng(7);
  for (const Case& c : cases()) {
    SCOPED_TRACE(describe(c));
    const std::vector<float> w = pruned_weights(c, rng);
    const Encoded e = encode(c, w);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(c.m * c.k), bias(c.n);
    for (float& v : x) v = normal(rng);
    for (float& v : bias) v = normal(rng);
    for (const float* b : {static_cast<const float*>(nullptr), static_cast<const float*>(bias.data())}) {
      set_num_threads(1);
      const std::vector<float> expected =
          run(e.view(c), by_4x1(bitmap_gemm_config_for(Isa::ref)), x, c.m, b);
      for (const NamedConfig& kc : kernel_configs()) {
        SCOPED_TRACE(kc.name + (b ? " bias" : ""));
        for (int threads : {1, 2}) {
          set_num_threads(threads);
          const std::vector<float> got = run(e.view(c), kc.config, x, c.m, b);
          for (size_t i = 0; i < got.size(); ++i)
            ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(expected[i]))
                << "y[" << i << "] " << got[i] << " vs " << expected[i] << ", threads " << threads;
        }
      }
      set_num_threads(0);
    }
  }
}

// |w| = 128 (q8 decoders accept -128) against |x| = 127 over one 4096-column group: the
// largest products and sums, where a saturating 16-bit step would show.
TEST(BitmapGemmKernels, Int8ExtremesOverALongGroup) {
  const Case c{2, 3, 4096, 4096, 0.0, BitmapValues::q8};
  std::vector<float> w(c.n * c.k, 1.0f);
  Encoded e = encode(c, w);
  uint8_t* values = e.t.payload.data() + e.l.values.offset;
  for (uint64_t i = 0; i < e.t.desc.count; ++i) values[i] = 0x80;  // -128
  std::vector<float> x(c.m * c.k);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (i / c.k == 0) ? 1.0f : (i % 2 ? -1.0f : 1.0f);
  const std::vector<float> expected = run(e.view(c), Isa::ref, x, c.m, nullptr);
  // Row 0 of x is all 127 after quantization: d = -128 · 127 · 4096, exact in int32.
  const float scale = 1.0f / 127.0f;
  EXPECT_EQ(expected[0], std::fma(1.0f / 127.0f, std::fma(scale, float(-128 * 127 * 4096), 0.0f), 0.0f));
  for (const NamedConfig& kc : kernel_configs()) {
    const std::vector<float> got = run(e.view(c), kc.config, x, c.m, nullptr);
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(expected[i])) << kc.name;
  }
}

// q4 rows and words that start at odd entries (mid-byte nibbles), full words among them (32
// values: 33 nibbles from the byte holding the first), and codes drawn from the extremes -8
// and 7 (and -1, 0) against |x| = 127; at groups of 32, 64 and 128 (q4's groups; at k = 128
// the last is one group per row). Every level against the scalar 4x1 reference bit for bit,
// through both paths.
TEST(BitmapGemmKernels, Q4OddEntryStartsAndExtremeCodes) {
  std::mt19937 rng(11);
  for (size_t group : {32, 64, 128}) {
    const Case c{0, 7, 128, group, 0.0, BitmapValues::q4};
    // Every weight stored but row 0's column 0 and row 3's column 40: rows 1-3 start odd.
    std::vector<float> w(c.n * c.k, 1.0f);
    w[0] = w[3 * c.k + 40] = 0.0f;
    Encoded e = encode(c, w);
    uint8_t* values = e.t.payload.data() + e.l.values.offset;
    const uint8_t codes[] = {0x0, 0xf, 0x7, 0x8};  // -8, 7, -1, 0
    std::uniform_int_distribution<size_t> pick(0, 3);
    for (uint64_t i = 0; i < (e.t.desc.count + 1) / 2; ++i)
      values[i] = static_cast<uint8_t>(codes[pick(rng)] | codes[pick(rng)] << 4);
    std::bernoulli_distribution negative(0.5);
    for (size_t m : {1, 4, 5, 9}) {
      SCOPED_TRACE("g=" + std::to_string(group) + " m=" + std::to_string(m));
      std::vector<float> x(m * c.k);
      for (float& v : x) v = negative(rng) ? -1.0f : 1.0f;
      const std::vector<float> expected =
          run(e.view(c), by_4x1(bitmap_gemm_config_for(Isa::ref)), x, m, nullptr);
      for (const NamedConfig& kc : kernel_configs()) {
        const std::vector<float> got = run(e.view(c), kc.config, x, m, nullptr);
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_EQ(std::bit_cast<uint32_t>(got[i]), std::bit_cast<uint32_t>(expected[i]))
              << kc.name << ": y[" << i << "] " << got[i] << " vs " << expected[i];
      }
    }
  }
}

TEST(BitmapGemmPack, RejectsRowPointersThatDisagreeWithTheMasks) {
  const Case c{1, 4, 64, 32, 0.5, BitmapValues::q8};
  std::mt19937 rng(3);
  Encoded e = encode(c, pruned_weights(c, rng));
  BitmapWeightsView v = e.view(c);
  std::vector<uint32_t> masks(v.masks, v.masks + c.n * 2);
  masks[0] ^= 1u << 5;
  v.masks = masks.data();
  Result<PackedBitmapWeights> p = pack_bitmap_weights(v, bitmap_gemm_config_for(Isa::ref));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message().find("row 0"), std::string::npos) << p.error().message();
  v = e.view(c);
  v.group = 48;
  EXPECT_FALSE(pack_bitmap_weights(v, bitmap_gemm_config_for(Isa::ref)).ok());
}

}  // namespace
}  // namespace sparq::kernels
