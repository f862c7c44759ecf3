// q8 SpMM on quad-packed weights (pack_quads_q8) with AVX-512 VNNI, vectorized over rows of
// X. The activation panel is X quantized as [k4][P rows][4] u8, so for one stored quad
// (output row n, columns 4q..4q+3) one 64-byte load brings those 4 columns of 16 rows and
// one vpdpbusd against the broadcast weight quad adds them into the (16 rows, n)
// accumulator. Accumulators stay in registers over a group's whole quad list, and the
// result is written once per output through a 16x16 register transpose.
//
// Why this shape: at 90 % sparsity dense VNNI spends K/4 vpdpbusd per 16 outputs of a row,
// this kernel ~K/40, so it only wins if each vpdpbusd stays about as cheap as in the dense
// kernel: one activation load (the u8 operand has to be a register; the s8 weight quad is
// the broadcast operand), a few scalar uops for the index, no padding quads. Loads are the
// limit (two 64-byte loads per cycle): with 1-row groups each activation load feeds one
// vpdpbusd, with 4-row groups (bsr 4x4, 16x1, ...) four. The panel height P trades panel
// size (P·K bytes, which should stay in L1/L2) against how often the weight list is
// re-read (once per panel): P = 64 measured best on the BERT shapes (bench_sparse_gemm).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/avx512/sparse_transpose__avx512.h"
#include "kernels/sparse_gemm.h"

namespace sparq::kernels {

namespace {

inline __m512i broadcast_quad(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// acc[r][v] = Σ over group g's quads of panel quad · weight quad of row r, for the 16V
// rows of the panel. One-row groups cycle their quads over S accumulator sets so that at
// least ~8 vpdpbusd chains are in flight (latency 4-5 cycles, up to 2 per cycle).
template <int R, int V>
inline void group_dot(const QuadPackedQ8& w, uint64_t g, const uint8_t* panel,
                      __m512i (&acc)[R][V]) {
  constexpr int S = R * V >= 8 ? 1 : 8 / (R * V);
  constexpr size_t kQuadBytes = 16 * V * 4;
  __m512i a[S][R][V];
#pragma GCC unroll 64
  for (int i = 0; i < S * R * V; ++i) (&a[0][0][0])[i] = _mm512_setzero_si512();
  const uint16_t* cols = w.cols_of(g);
  const int8_t* wts = w.weights_of(g);
  const uint64_t count = w.count_of(g);
  auto step = [&](int s, uint64_t q) {
    const uint8_t* x = panel + size_t(cols[q]) * kQuadBytes;
    __m512i xv[V];
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) xv[v] = _mm512_load_si512(x + v * 64);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512i b = broadcast_quad(wts + (q * R + r) * 4);
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) a[s][r][v] = _mm512_dpbusd_epi32(a[s][r][v], xv[v], b);
    }
  };
  uint64_t q = 0;
  for (; q + S <= count; q += S) {
#pragma GCC unroll 8
    for (int s = 0; s < S; ++s) step(s, q + s);
  }
  for (; q < count; ++q) step(0, q);
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) {
      acc[r][v] = a[0][r][v];
#pragma GCC unroll 8
      for (int s = 1; s < S; ++s) acc[r][v] = _mm512_add_epi32(acc[r][v], a[s][r][v]);
    }
  }
}

template <int R, int V>
void q8_spmm(const QuadPackedQ8& w, size_t n_begin, size_t n_end, const uint8_t* panel,
             const float* x_scales, size_t m_valid, const float* bias, float* y, size_t ldy,
             bool stream_y) {
  constexpr size_t P = 16 * V;
  alignas(64) float tile[16][P];
  __m512 xs[V];
  for (int v = 0; v < V; ++v) xs[v] = _mm512_loadu_ps(x_scales + v * 16);
  for (size_t n0 = n_begin; n0 < n_end; n0 += 16) {
    const size_t n_valid = std::min<size_t>(16, n_end - n0);
    for (size_t g = n0 / R; g * R < n0 + n_valid; ++g) {
      __m512i acc[R][V];
      group_dot<R, V>(w, g, panel, acc);
      for (int r = 0; r < R; ++r) {
        const size_t n = g * R + r;
        if (n >= n0 + n_valid) break;
        // Activations entered as x + 128: take back 128 · Σw (wrapping, exact in the end).
        const __m512i offset = _mm512_set1_epi32(int32_t(128u * uint32_t(w.weight_sums[n])));
        const __m512 b = _mm512_set1_ps(bias ? bias[n] : 0.0f);
        const __m512 ws = _mm512_set1_ps(w.scales[n]);
        for (int v = 0; v < V; ++v) {
          const __m512 dot = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][v], offset));
          _mm512_store_ps(tile[n - n0] + v * 16,
                          _mm512_fmadd_ps(dot, _mm512_mul_ps(xs[v], ws), b));
        }
      }
    }
    avx512::store_transposed_tile<P>(tile, m_valid, n_valid, y + n0, ldy, stream_y);
  }
  if (stream_y) _mm_sfence();  // order the streaming stores before the caller's barrier
}

constexpr int kVectors = kQ8PanelRowsAvx512 / 16;

}  // namespace

void q8_spmm_1x4__avx512vnni(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                             const uint8_t* panel, const float* x_scales, size_t m_valid,
                             const float* bias, float* y, size_t ldy, bool stream_y) {
  q8_spmm<1, kVectors>(w, n_begin, n_end, panel, x_scales, m_valid, bias, y, ldy, stream_y);
}

void q8_spmm_4x4__avx512vnni(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                             const uint8_t* panel, const float* x_scales, size_t m_valid,
                             const float* bias, float* y, size_t ldy, bool stream_y) {
  q8_spmm<4, kVectors>(w, n_begin, n_end, panel, x_scales, m_valid, bias, y, ldy, stream_y);
}

}  // namespace sparq::kernels
