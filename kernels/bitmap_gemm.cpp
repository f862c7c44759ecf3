// The bitmap matmul driver: packing (a checked copy), the per-level config, and the two
// loops (kernels/bitmap_gemm.h) that quantize activations and hand each thread's weight rows
// to the microkernels: the 4x1 kernels below the config's expand_min_m, the expand kernels
// and the expanded GEMM from it on.
#include "kernels/bitmap_gemm.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "kernels/aligned_array.h"
#include "kernels/threading.h"

namespace sparq::kernels {
namespace {

// A second thread is worth waking for about this many multiply-adds (as kernels/dense_gemm.cpp).
constexpr size_t kMinMacsPerThread = size_t{1} << 16;

// bitmap_matmul expands each weight row once per call from this m on, at every level.
// Measured (bench/RESULTS.md, 2026-12-07: bench/kernels/bench_bitmap_gemm.cpp's _4x1 and
// _expanded rows, TinyLlama 2048x5632 at 50 %, 1 thread, Zen 5): at m = 4 neither path wins
// across runs (q8 expanded / 4x1 time 0.89 and 1.25 with vpexpandb, 0.90 on avx2, 1.34 on
// ref), at m = 6 the expanded path takes half the time (0.50 vpexpandb, 0.51 avx2, 0.67
// ref) and the gap grows with m. So decode (m <= 4) keeps the 4x1 kernels.
constexpr size_t kExpandMinM = 5;

// Expanded weight bytes a thread keeps in L2 while every panel of X runs over them: about a
// quarter of a 1 MiB L2, leaving room for the X panel that streams through (32 rows of k
// bytes, 180 KB at k = 5632) — as kernels/dense_gemm.cpp's kPanelBlockBytes for its panels.
constexpr size_t kExpandedBlockBytes = 256 * 1024;

uint64_t load_row_ptr(const BitmapWeightsView& w, size_t i) {
  if (w.row_ptr_width == 8) {
    uint64_t v;
    std::memcpy(&v, w.row_ptr + i * 8, 8);
    return v;
  }
  uint32_t v;
  std::memcpy(&v, w.row_ptr + i * 4, 4);
  return v;
}

struct QuantizedRows {
  AlignedArray<int8_t> q;
  AlignedArray<float> scale;
  AlignedArray<int32_t> sums;  // Σqx per group: the u8 expanded GEMMs' offset
};

// X as the expanded GEMMs read it (BitmapExpandedGemmTile): per panel of mr rows, the
// 4-column steps of all rows, the rows' group sums, their scales; rows past m zero.
struct XPanels {
  AlignedArray<int8_t> x;
  AlignedArray<int32_t> sums;
  AlignedArray<float> scale;
};

// Panel p of X from its quantized rows (row_bytes apart; groups sums and one scale each).
void pack_x_panel(const QuantizedRows& rows, size_t m, size_t p, size_t mr, size_t row_bytes,
                  size_t steps, size_t groups, XPanels& out) {
  int8_t* x = out.x.data() + p * steps * 4 * mr;
  int32_t* sums = out.sums.data() + p * groups * mr;
  float* scale = out.scale.data() + p * mr;
  const size_t live = std::min(mr, m - p * mr);
  for (size_t i = 0; i < live; ++i) {
    const size_t row = p * mr + i;
    const int8_t* q = rows.q.data() + row * row_bytes;
    for (size_t s = 0; s < steps; ++s) std::memcpy(x + (s * mr + i) * 4, q + s * 4, 4);
    for (size_t j = 0; j < groups; ++j) sums[j * mr + i] = rows.sums[row * groups + j];
    scale[i] = rows.scale[row];
  }
  for (size_t i = live; i < mr; ++i) {  // the scratch is reused: padding rows are rewritten
    for (size_t s = 0; s < steps; ++s) std::memset(x + (s * mr + i) * 4, 0, 4);
    for (size_t j = 0; j < groups; ++j) sums[j * mr + i] = 0;
    scale[i] = 0.0f;
  }
}

// Bytes of one quantized row of X: its groups, zero-padded to kBitmapRowAlign.
size_t quantized_row_bytes(const BitmapWeightsView& v) {
  return (v.groups() * v.group + kBitmapRowAlign - 1) / kBitmapRowAlign * kBitmapRowAlign;
}

// Quantizes rows [mine.begin, mine.end) of X (the rule of kernels/dense_gemm.h).
void quantize_rows(const BitmapGemmConfig& c, const float* x, InputTransform f, Range mine,
                   const BitmapWeightsView& v, QuantizedRows& rows) {
  const size_t groups = v.groups(), used = groups * v.group, row_bytes = quantized_row_bytes(v);
  for (size_t i = mine.begin; i < mine.end; ++i) {
    int8_t* q = rows.q.data() + i * row_bytes;
    c.quantize_row(transformed_input(f, x + i * v.k, v.k), v.k, v.group, v.group, q,
                   rows.sums.data() + i * groups, rows.scale.data() + i);
    std::memset(q + used, 0, row_bytes - used);
  }
}

}  // namespace

BitmapGemmConfig bitmap_gemm_config_for(Isa isa, const CpuFeatures& features) {
  BitmapGemmConfig c{Isa::ref, q8_quantize_row__ref, q8_bitmap_gemm_4x1__ref,
                     q4_bitmap_gemm_4x1__ref,
                     {q8_bitmap_expand_s8__ref, q4_bitmap_expand_s8__ref,
                      {s8_expanded_bitmap_gemm_4x4__ref, 4}, {s8_expanded_bitmap_gemm_4x4__ref, 4},
                      4, kExpandMinM}};
  switch (isa) {
#if SPARQ_HAVE_AVX2
    case Isa::avx2:
    case Isa::avx512:
      c = {isa, isa == Isa::avx2 ? q8_quantize_row__avx2 : q8_quantize_row__avx512,
           q8_bitmap_gemm_4x1__avx2, q4_bitmap_gemm_4x1__avx2,
           {q8_bitmap_expand_s8__avx2, q4_bitmap_expand_s8__avx2,
            {s8_expanded_bitmap_gemm_8x2__avx2, 8}, {s8_expanded_bitmap_gemm_16x2__avx2, 16}, 2,
            kExpandMinM}};
      break;
#endif
#if SPARQ_HAVE_AVX512VNNI
    case Isa::avx512vnni:
    case Isa::amx:
      c = {isa, q8_quantize_row__avx512, q8_bitmap_gemm_4x1__avx512vnni,
           q4_bitmap_gemm_4x1__avx512vnni,
           {q8_bitmap_expand_u8__avx512vnni, q4_bitmap_expand_u8__avx512vnni,
            {u8_expanded_bitmap_gemm_16x8__avx512vnni, 16},
            {u8_expanded_bitmap_gemm_32x8__avx512vnni, 32}, 8, kExpandMinM}};
#if SPARQ_HAVE_AVX512VBMI2
      if (features.avx512vbmi && features.avx512vbmi2) {
        c.q8 = q8_bitmap_gemm_4x1__avx512vbmi2;
        c.q4 = q4_bitmap_gemm_4x1__avx512vbmi2;
        c.expanded.q8 = q8_bitmap_expand_u8__avx512vbmi2;
        c.expanded.q4 = q4_bitmap_expand_u8__avx512vbmi2;
      }
#endif
      break;
#endif
#if SPARQ_HAVE_NEON
    // aarch64 quantizes X by the scalar rule (as kernels/dense_gemm_config.cpp's NEON
    // configs); kExpandMinM is the x86 measurement, not yet measured on an Arm core.
    case Isa::neon:
      c = {isa, q8_quantize_row__ref, q8_bitmap_gemm_4x1__neon, q4_bitmap_gemm_4x1__neon,
           {q8_bitmap_expand_s8__neon, q4_bitmap_expand_s8__neon,
            {s8_expanded_bitmap_gemm_8x2__neon, 8}, {s8_expanded_bitmap_gemm_16x2__neon, 16}, 2,
            kExpandMinM}};
      break;
#endif
#if SPARQ_HAVE_NEON_DOTPROD
    // i8mm's smmla takes X's rows in 8-byte runs and the panels hold 4-byte steps
    // (BitmapExpandedGemmTile): the zips to pair them would eat much of its 2x over sdot,
    // so the i8mm level takes the sdot kernels (not measured on a core with i8mm).
    case Isa::neon_dotprod:
    case Isa::neon_i8mm:
      c = {isa, q8_quantize_row__ref, q8_bitmap_gemm_4x1__neon_dotprod,
           q4_bitmap_gemm_4x1__neon_dotprod,
           {q8_bitmap_expand_s8__neon, q4_bitmap_expand_s8__neon,
            {s8_expanded_bitmap_gemm_8x4__neon_dotprod, 8},
            {s8_expanded_bitmap_gemm_16x4__neon_dotprod, 16}, 4, kExpandMinM}};
      break;
#endif
    default: break;
  }
  return c;
}

size_t PackedBitmapWeights::packed_bytes() const {
  return first_.size() * sizeof(uint64_t) + masks_.size() * sizeof(uint32_t) +
         scales_.size() * sizeof(float) + values_.size();
}

Result<PackedBitmapWeights> pack_bitmap_weights(const BitmapWeightsView& w,
                                                const BitmapGemmConfig& config) {
  if (w.n == 0 || w.k == 0) return Error("bitmap weights: empty matrix");
  if (w.group == 0 || w.group % kBitmapWordColumns != 0 || w.group > kMaxIntGroup)
    return Error(fmt::format("bitmap weights: group {} is not a multiple of 32 up to {}", w.group,
                             kMaxIntGroup));
  const size_t words = w.words_per_row(), groups = w.groups();
  PackedBitmapWeights p;
  p.view_ = w;
  p.config_ = config;
  p.first_.resize(w.n + 1);
  for (size_t r = 0; r <= w.n; ++r) p.first_[r] = load_row_ptr(w, r);
  // The kernels follow the masks, not row_ptr: they must agree (the validator checks this
  // for files; views built elsewhere are checked here).
  for (size_t r = 0; r < w.n; ++r) {
    uint64_t bits = 0;
    for (size_t j = 0; j < words; ++j) bits += std::popcount(w.masks[r * words + j]);
    if (p.first_[r + 1] < p.first_[r] || p.first_[r + 1] - p.first_[r] != bits)
      return Error(fmt::format("bitmap weights: row_ptr of row {} disagrees with its mask", r));
  }
  if (p.first_[0] != 0 || p.first_[w.n] != w.nnz)
    return Error("bitmap weights: row_ptr does not span the stored values");
  p.masks_.assign(w.masks, w.masks + w.n * words);
  p.scales_.assign(w.scales, w.scales + w.n * groups);
  const size_t value_bytes = w.type == BitmapValues::q4 ? (w.nnz + 1) / 2 : w.nnz;
  p.values_.assign(value_bytes + kBitmapValuesTail, 0);
  std::copy(w.values, w.values + value_bytes, p.values_.begin());
  p.view_.row_ptr = nullptr;  // the copies above are what the kernels read
  p.view_.masks = nullptr;
  p.view_.scales = nullptr;
  p.view_.values = nullptr;
  return p;
}

namespace {

// What bitmap_matmul's two loops read of the packed weights.
struct PackedArrays {
  const uint64_t* first;
  const uint32_t* masks;
  const float* scales;
  const uint8_t* values;
};

// Below expanded.expand_min_m: X rows four at a time through each weight row.
void bitmap_matmul_by_4x1(const PackedArrays& w, const BitmapWeightsView& v,
                          const BitmapGemmConfig& c, const float* x, InputTransform f, size_t m,
                          const float* bias, float* y, QuantizedRows& rows) {
  const BitmapGemmUkernel kernel = v.type == BitmapValues::q4 ? c.q4 : c.q8;
  const size_t n = v.n, k = v.k, group = v.group, groups = v.groups();
  const size_t words = v.words_per_row(), row_bytes = quantized_row_bytes(v);
  const size_t min_rows = std::max<size_t>(1, kMinMacsPerThread / std::max<size_t>(m * k, 1));
  parallel_run(n, min_rows, [&](int t, int threads) {
    quantize_rows(c, x, f, static_partition(m, 1, t, threads), v, rows);
#pragma omp barrier
    const Range mine = static_partition(n, 1, t, threads);
    if (mine.size() == 0) return;
    for (size_t m0 = 0; m0 < m; m0 += kBitmapGemmMr) {
      BitmapGemmTile tile{std::min(kBitmapGemmMr, m - m0),
                          rows.q.data() + m0 * row_bytes,
                          row_bytes,
                          rows.sums.data() + m0 * groups,
                          groups,
                          rows.scale.data() + m0,
                          mine.size(),
                          w.first + mine.begin,
                          w.masks + mine.begin * words,
                          w.scales + mine.begin * groups,
                          w.values,
                          words,
                          groups,
                          group / kBitmapWordColumns,
                          bias ? bias + mine.begin : nullptr,
                          y + m0 * n + mine.begin,
                          n};
      kernel(tile);
    }
  });
}

// From expanded.expand_min_m on: X quantized and packed into panels (each thread the rows of
// its share of the panels), then each thread expands its weight rows a block at a time and
// runs every panel over the block.
void bitmap_matmul_expanded(const PackedArrays& w, const BitmapWeightsView& v,
                            const BitmapGemmConfig& c, const float* x, InputTransform f, size_t m,
                            const float* bias, float* y, QuantizedRows& rows, XPanels& panels) {
  const BitmapExpandedConfig& ec = c.expanded;
  const BitmapExpandUkernel expand = v.type == BitmapValues::q4 ? ec.q4 : ec.q8;
  const size_t n = v.n, k = v.k, group = v.group, groups = v.groups();
  const size_t words = v.words_per_row(), row_bytes = quantized_row_bytes(v);
  const BitmapExpandedGemmKernel& gemm = m <= ec.narrow.mr ? ec.narrow : ec.wide;
  const size_t steps = words * kBitmapWordColumns / 4, mr = gemm.mr, nr = ec.nr;
  const size_t panel_count = (m + mr - 1) / mr;
  panels.x.at_least(panel_count * steps * 4 * mr);
  panels.sums.at_least(panel_count * groups * mr);
  panels.scale.at_least(panel_count * mr);
  // Expanded rows start on cache lines; a block is whole tiles of nr rows.
  const size_t w_stride = (words * kBitmapWordColumns + 63) / 64 * 64;
  const size_t block_rows = std::max<size_t>(1, kExpandedBlockBytes / (w_stride * nr)) * nr;
  const size_t min_rows = std::max<size_t>(nr, kMinMacsPerThread / std::max<size_t>(m * k, 1));
  parallel_run(n, min_rows, [&](int t, int threads) {
    const Range my_panels = static_partition(panel_count, 1, t, threads);
    for (size_t p = my_panels.begin; p < my_panels.end; ++p) {
      quantize_rows(c, x, f, {p * mr, std::min(m, (p + 1) * mr)}, v, rows);
      pack_x_panel(rows, m, p, mr, row_bytes, steps, groups, panels);
    }
#pragma omp barrier
    const Range mine = static_partition(n, nr, t, threads);
    static thread_local AlignedArray<uint8_t> expanded;
    uint8_t* block = expanded.at_least(std::min(block_rows, mine.size()) * w_stride);
    for (size_t b0 = mine.begin; b0 < mine.end; b0 += block_rows) {
      const size_t b1 = std::min(mine.end, b0 + block_rows);
      expand({b1 - b0, w.first + b0, w.masks + b0 * words, w.values,
              words, block, w_stride});
      for (size_t p = 0; p < panel_count; ++p) {
        for (size_t r0 = b0; r0 < b1; r0 += nr) {
          BitmapExpandedGemmTile tile{std::min(mr, m - p * mr),
                                      panels.x.data() + p * steps * 4 * mr,
                                      panels.sums.data() + p * groups * mr,
                                      panels.scale.data() + p * mr,
                                      std::min(nr, b1 - r0),
                                      block + (r0 - b0) * w_stride,
                                      w_stride,
                                      w.scales + r0 * groups,
                                      groups,
                                      group / 4,
                                      steps,
                                      bias ? bias + r0 : nullptr,
                                      y + p * mr * n + r0,
                                      n};
          gemm.fn(tile);
        }
      }
    }
  });
}

}  // namespace

void bitmap_matmul(const PackedBitmapWeights& w, const float* x, size_t m, const float* bias,
                   float* y, InputTransform f) {
  if (m == 0) return;
  const BitmapWeightsView& v = w.view_;
  const BitmapGemmConfig& c = w.config_;
  static thread_local QuantizedRows rows;
  rows.q.at_least(m * quantized_row_bytes(v));
  rows.scale.at_least(m);
  rows.sums.at_least(m * v.groups());
  const PackedArrays arrays{w.first_.data(), w.masks_.data(), w.scales_.data(), w.values_.data()};
  if (m < c.expanded.expand_min_m) {
    bitmap_matmul_by_4x1(arrays, v, c, x, f, m, bias, y, rows);
  } else {
    static thread_local XPanels panels;
    bitmap_matmul_expanded(arrays, v, c, x, f, m, bias, y, rows, panels);
  }
}

}  // namespace sparq::kernels
