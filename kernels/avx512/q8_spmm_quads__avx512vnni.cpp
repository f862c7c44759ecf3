// q8 SpMM on quad-packed weights (pack_quads_q8) with AVX-512 VNNI, vectorized over rows of
// X: a panel holds 64 rows of X as u8 quads, so one vpdpbusd multiplies the broadcast 4
// weights of one quad by the same 4 columns of 16 rows. Each weight is loaded once per 64
// rows; groups of 4 output rows (4x4) reuse each activation load for 4 outputs.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/avx512/sparse_transpose__avx512.h"
#include "kernels/sparse_gemm.h"

namespace sparq::kernels {

namespace {

constexpr int kVectors = kSparsePanelRows / 16;

inline __m512i broadcast_quad(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// One group of R output rows against the panel: acc[r][v] += panel quads · weights. With
// one output row the 4 accumulators would form a latency-bound chain, so alternate quads
// go to a second set of accumulators, summed at the end.
template <int R>
inline void group_dot(const QuadPackedQ8& w, uint64_t g, const uint8_t* panel,
                      __m512i (&acc)[R][kVectors]) {
  constexpr int kSets = R == 1 ? 2 : 1;
  __m512i a[kSets][R][kVectors];
  for (int s = 0; s < kSets; ++s)
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < kVectors; ++v) a[s][r][v] = _mm512_setzero_si512();
  const int32_t* cols = w.quad_col.data() + w.quad_begin[g];
  const int8_t* wts = w.weights.data() + w.quad_begin[g] * R * 4;
  const uint32_t count = w.quad_count[g];
  auto step = [&](int s, uint32_t q) {
    const uint8_t* x = panel + size_t(cols[q]) * kSparsePanelRows * 4;
    const int8_t* wq = wts + (q / 16) * 16 * R * 4 + (q % 16) * 4;
    __m512i xv[kVectors];
    for (int v = 0; v < kVectors; ++v) xv[v] = _mm512_load_si512(x + v * 64);
    for (int r = 0; r < R; ++r) {
      const __m512i b = broadcast_quad(wq + r * 64);
      for (int v = 0; v < kVectors; ++v) a[s][r][v] = _mm512_dpbusd_epi32(a[s][r][v], xv[v], b);
    }
  };
  uint32_t q = 0;
  for (; q + kSets <= count; q += kSets)
    for (int s = 0; s < kSets; ++s) step(s, q + s);
  for (; q < count; ++q) step(0, q);
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < kVectors; ++v) {
      acc[r][v] = a[0][r][v];
      for (int s = 1; s < kSets; ++s) acc[r][v] = _mm512_add_epi32(acc[r][v], a[s][r][v]);
    }
}

template <int R>
void q8_spmm(const QuadPackedQ8& w, size_t n_begin, size_t n_end, const uint8_t* panel,
             const float* x_scales, size_t m_valid, const float* bias, float* y, size_t ldy) {
  alignas(64) float tile[16][64];
  __m512 xs[kVectors];
  for (int v = 0; v < kVectors; ++v) xs[v] = _mm512_loadu_ps(x_scales + v * 16);
  const size_t blocks = (m_valid + 15) / 16;
  for (size_t n0 = n_begin; n0 < n_end; n0 += 16) {
    const size_t n_valid = std::min<size_t>(16, n_end - n0);
    for (size_t g = n0 / R; g * R < n0 + n_valid; ++g) {
      __m512i acc[R][kVectors];
      group_dot<R>(w, g, panel, acc);
      for (int r = 0; r < R; ++r) {
        const size_t n = g * R + r;
        if (n >= n0 + n_valid) break;
        // Activations entered as x + 128: take back 128 · Σw (wrapping, exact in the end).
        const __m512i offset = _mm512_set1_epi32(int32_t(128u * uint32_t(w.weight_sums[n])));
        const __m512 b = _mm512_set1_ps(bias ? bias[n] : 0.0f);
        const __m512 ws = _mm512_set1_ps(w.scales[n]);
        for (int v = 0; v < kVectors; ++v) {
          const __m512 dot = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][v], offset));
          _mm512_store_ps(tile[n - n0] + v * 16,
                          _mm512_fmadd_ps(dot, _mm512_mul_ps(xs[v], ws), b));
        }
      }
    }
    avx512::store_transposed_tile(tile, blocks, m_valid, n_valid, y + n0, ldy);
  }
}

}  // namespace

void q8_spmm_1x4__avx512vnni(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                             const uint8_t* panel, const float* x_scales, size_t m_valid,
                             const float* bias, float* y, size_t ldy) {
  q8_spmm<1>(w, n_begin, n_end, panel, x_scales, m_valid, bias, y, ldy);
}

void q8_spmm_4x4__avx512vnni(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                             const uint8_t* panel, const float* x_scales, size_t m_valid,
                             const float* bias, float* y, size_t ldy) {
  q8_spmm<4>(w, n_begin, n_end, panel, x_scales, m_valid, bias, y, ldy);
}

}  // namespace sparq::kernels
