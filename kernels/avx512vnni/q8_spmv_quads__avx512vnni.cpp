// q8 SpMV (one row of X) on quad-packed weights with AVX-512 VNNI. Bandwidth-bound: the
// packed stream (4 weight bytes per row and quad, a 16-bit K index per quad) is read once,
// in order, and the activation row stays in L1/L2.
//  - 1-row groups: vectorized over quads — one gather fetches the activations of 16 quads
//    and one vpdpbusd multiplies them by the row's 16 weight quads (64 contiguous bytes);
//    the row's last chunk is masked rather than padded, so no bytes are streamed for nothing.
//  - 4-row groups: a quad's 4 rows are 16 contiguous bytes, so one broadcast activation quad
//    and one 128-bit vpdpbusd serve all 4 rows; four accumulators cycle to hide latency.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/sparse_gemm.h"

namespace sparq::kernels {

namespace {

inline float finish(const QuadPackedQ8& w, size_t n, int32_t acc_u8, float x_scale,
                    const float* bias) {
  // Activations entered as x + 128: take back 128 · Σw (wrapping, exact in the end).
  const int32_t dot = int32_t(uint32_t(acc_u8) - 128u * uint32_t(w.weight_sums[n]));
  return std::fma(float(dot), x_scale * w.scales[n], bias ? bias[n] : 0.0f);
}

}  // namespace

void q8_spmv_1x4__avx512vnni(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                             const uint8_t* x_u8, float x_scale, const float* bias, float* y) {
  for (size_t n = n_begin; n < n_end; ++n) {
    const uint16_t* cols = w.cols_of(n);
    const int8_t* wts = w.weights_of(n);
    const uint64_t count = w.count_of(n);
    __m512i acc = _mm512_setzero_si512();
    for (uint64_t i = 0; i < count; i += 16) {
      const __mmask16 live = count - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (count - i)) - 1);
      const __m512i idx = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(live, cols + i));
      const __m512i xv = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, idx, x_u8, 4);
      acc = _mm512_dpbusd_epi32(acc, xv, _mm512_maskz_loadu_epi32(live, wts + i * 4));
    }
    y[n] = finish(w, n, _mm512_reduce_add_epi32(acc), x_scale, bias);
  }
}

void q8_spmv_4x4__avx512vnni(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                             const uint8_t* x_u8, float x_scale, const float* bias, float* y) {
  auto quad = [&](const uint16_t* cols, const int8_t* wts, uint64_t i, __m128i acc) {
    int32_t xq;
    std::memcpy(&xq, x_u8 + size_t(cols[i]) * 4, 4);
    return _mm_dpbusd_epi32(acc, _mm_set1_epi32(xq), _mm_load_si128(reinterpret_cast<const __m128i*>(wts + i * 16)));
  };
  for (uint64_t g = n_begin / 4; g * 4 < n_end; ++g) {
    const uint16_t* cols = w.cols_of(g);
    const int8_t* wts = w.weights_of(g);
    const uint64_t count = w.count_of(g);
    __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
    uint64_t i = 0;
    for (; i + 4 <= count; i += 4) {
      a0 = quad(cols, wts, i, a0);
      a1 = quad(cols, wts, i + 1, a1);
      a2 = quad(cols, wts, i + 2, a2);
      a3 = quad(cols, wts, i + 3, a3);
    }
    for (; i < count; ++i) a0 = quad(cols, wts, i, a0);
    alignas(16) int32_t acc[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(acc),
                    _mm_add_epi32(_mm_add_epi32(a0, a1), _mm_add_epi32(a2, a3)));
    for (size_t r = 0; r < 4 && g * 4 + r < n_end; ++r) {
      y[g * 4 + r] = finish(w, g * 4 + r, acc[r], x_scale, bias);
    }
  }
}

}  // namespace sparq::kernels
