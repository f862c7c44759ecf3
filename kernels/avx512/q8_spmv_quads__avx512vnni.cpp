// q8 SpMV (one row of X) on quad-packed weights with AVX-512 VNNI, vectorized over quads:
// one gather fetches the activations of 16 quads, and one vpdpbusd per output row of the
// group multiplies them by that row's 16 quads (64 contiguous weight bytes). Bandwidth-
// bound: every weight byte is read once, the activation row stays in L1/L2.
#include <immintrin.h>

#include <cmath>

#include "kernels/sparse_gemm.h"

namespace sparq::kernels {

namespace {

template <int R>
void q8_spmv(const QuadPackedQ8& w, size_t n_begin, size_t n_end, const uint8_t* x_u8,
             float x_scale, const float* bias, float* y) {
  constexpr size_t C = QuadPackedQ8::kQuadChunk;
  for (uint64_t g = n_begin / R; g * R < n_end; ++g) {
    __m512i acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_si512();
    const int32_t* cols = w.quad_col.data() + w.quad_begin[g];
    const int8_t* wts = w.weights.data() + w.quad_begin[g] * R * 4;
    const uint64_t chunks = (w.quad_count[g] + C - 1) / C;
    for (uint64_t c = 0; c < chunks; ++c) {
      // Padding quads point at column 0 with zero weights: no masks needed.
      const __m512i idx = _mm512_load_si512(cols + c * C);
      const __m512i xv = _mm512_i32gather_epi32(idx, x_u8, 4);
      for (int r = 0; r < R; ++r) {
        acc[r] = _mm512_dpbusd_epi32(acc[r], xv, _mm512_load_si512(wts + (c * R + r) * C * 4));
      }
    }
    for (int r = 0; r < R; ++r) {
      const size_t n = g * R + r;
      if (n >= n_end) break;
      const int32_t dot = int32_t(uint32_t(_mm512_reduce_add_epi32(acc[r])) -
                                  128u * uint32_t(w.weight_sums[n]));
      y[n] = std::fma(float(dot), x_scale * w.scales[n], bias ? bias[n] : 0.0f);
    }
  }
}

}  // namespace

void q8_spmv_1x4__avx512vnni(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                             const uint8_t* x_u8, float x_scale, const float* bias, float* y) {
  q8_spmv<1>(w, n_begin, n_end, x_u8, x_scale, bias, y);
}

void q8_spmv_4x4__avx512vnni(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                             const uint8_t* x_u8, float x_scale, const float* bias, float* y) {
  q8_spmv<4>(w, n_begin, n_end, x_u8, x_scale, bias, y);
}

}  // namespace sparq::kernels
