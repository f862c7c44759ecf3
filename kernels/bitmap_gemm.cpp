// The bitmap matmul driver: packing (a checked copy), the per-level config, and the loop
// that quantizes activations and hands each thread's weight rows to the microkernel.
#include "kernels/bitmap_gemm.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "kernels/threading.h"

namespace sparq::kernels {
namespace {

// Bytes the kernels may read past the last value: a 32-byte load (vbmi2) or an 8-byte one
// per 8 columns, starting at most at the end of the stream.
constexpr size_t kValuesTail = 32;

// A second thread is worth waking for about this many multiply-adds (as kernels/dense_gemm.cpp).
constexpr size_t kMinMacsPerThread = size_t{1} << 16;

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
  std::vector<int8_t> q;
  std::vector<float> scale;
  std::vector<int32_t> sums;  // written by quantize_row, not needed by the bitmap kernels
};

}  // namespace

BitmapGemmConfig bitmap_gemm_config_for(Isa isa, const CpuFeatures& features) {
  BitmapGemmConfig c{Isa::ref, q8_quantize_row__ref, q8_bitmap_gemm_4x1__ref,
                     q4_bitmap_gemm_4x1__ref};
  switch (isa) {
#if SPARQ_HAVE_AVX2
    case Isa::avx2:
    case Isa::avx512:
      c = {isa, isa == Isa::avx2 ? q8_quantize_row__avx2 : q8_quantize_row__avx512,
           q8_bitmap_gemm_4x1__avx2, q4_bitmap_gemm_4x1__avx2};
      break;
#endif
#if SPARQ_HAVE_AVX512VNNI
    case Isa::avx512vnni:
    case Isa::amx:
      c = {isa, q8_quantize_row__avx512, q8_bitmap_gemm_4x1__avx512vnni,
           q4_bitmap_gemm_4x1__avx512vnni};
#if SPARQ_HAVE_AVX512VBMI2
      if (features.avx512vbmi2)
        c = {isa, q8_quantize_row__avx512, q8_bitmap_gemm_4x1__avx512vbmi2,
             q4_bitmap_gemm_4x1__avx512vbmi2};
#endif
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
  p.values_.assign(value_bytes + kValuesTail, 0);
  std::copy(w.values, w.values + value_bytes, p.values_.begin());
  p.view_.row_ptr = nullptr;  // the copies above are what the kernels read
  p.view_.masks = nullptr;
  p.view_.scales = nullptr;
  p.view_.values = nullptr;
  return p;
}

void bitmap_matmul(const PackedBitmapWeights& w, const float* x, size_t m, const float* bias,
                   float* y) {
  if (m == 0) return;
  const BitmapWeightsView& v = w.view_;
  const BitmapGemmConfig& c = w.config_;
  const BitmapGemmUkernel kernel = v.type == BitmapValues::q4 ? c.q4 : c.q8;
  const size_t n = v.n, k = v.k, group = v.group, groups = v.groups();
  const size_t words = v.words_per_row(), row_bytes = groups * group;

  static thread_local QuantizedRows scratch;
  if (scratch.q.size() < m * row_bytes) scratch.q.resize(m * row_bytes);
  if (scratch.scale.size() < m) scratch.scale.resize(m);
  if (scratch.sums.size() < m * groups) scratch.sums.resize(m * groups);
  int8_t* q = scratch.q.data();
  float* scale = scratch.scale.data();
  int32_t* sums = scratch.sums.data();

  const size_t min_rows = std::max<size_t>(1, kMinMacsPerThread / std::max<size_t>(m * k, 1));
  parallel_run(n, min_rows, [&](int t, int threads) {
    const Range mine = static_partition(m, 1, t, threads);
    for (size_t i = mine.begin; i < mine.end; ++i)
      c.quantize_row(x + i * k, k, group, group, q + i * row_bytes, sums + i * groups, scale + i);
#pragma omp barrier
    const Range rows = static_partition(n, 1, t, threads);
    if (rows.size() == 0) return;
    for (size_t m0 = 0; m0 < m; m0 += kBitmapGemmMr) {
      BitmapGemmTile tile{std::min(kBitmapGemmMr, m - m0),
                          q + m0 * row_bytes,
                          row_bytes,
                          scale + m0,
                          rows.size(),
                          w.first_.data() + rows.begin,
                          w.masks_.data() + rows.begin * words,
                          w.scales_.data() + rows.begin * groups,
                          w.values_.data(),
                          words,
                          groups,
                          group / kBitmapWordColumns,
                          bias ? bias + rows.begin : nullptr,
                          y + m0 * n + rows.begin,
                          n};
      kernel(tile);
    }
  });
}

}  // namespace sparq::kernels
