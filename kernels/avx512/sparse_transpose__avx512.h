// 16x16 transposes of 32-bit elements in AVX-512 registers: the sparse SpMM kernels compute
// output columns (one output row of W against 64 rows of X) and the panel packers turn rows
// of X into K-major panels; both cross over through these.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace sparq::kernels::avx512 {
// Internal linkage: the avx512 and avx512vnni levels each compile their own copy, and
// neither may be the one the linker keeps for the other.
namespace {

// One stage of transpose16x16: exchanges bit D of the row and column index. Row i keeps
// its columns with bit D clear and takes row i+D's from D to the left; row i+D takes row
// i's columns from D to the right and keeps its own with bit D set. Fully unrolled so the
// 16 rows stay in registers.
template <int D>
inline void transpose_stage(__m512i (&r)[16]) {
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __mmask16 high = _mm512_test_epi32_mask(lane, _mm512_set1_epi32(D));
  const __m512i lo = _mm512_mask_add_epi32(lane, high, lane, _mm512_set1_epi32(16 - D));
  const __m512i hi = _mm512_mask_add_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32(D)), high,
                                           lane, _mm512_set1_epi32(16));
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) {
    if (i & D) continue;
    const __m512i a = r[i], b = r[i + D];
    r[i] = _mm512_permutex2var_epi32(a, lo, b);
    r[i + D] = _mm512_permutex2var_epi32(a, hi, b);
  }
}

// r[i] holds row i; afterwards r[i] holds column i: after the stages for bits 8, 4, 2, 1
// every element (i, c) has moved to (c, i).
inline void transpose16x16(__m512i (&r)[16]) {
  transpose_stage<8>(r);
  transpose_stage<4>(r);
  transpose_stage<2>(r);
  transpose_stage<1>(r);
}

// Writes a tile of results computed as columns, tile[n][m] (16 outputs x P rows of X, P a
// multiple of 16), into row-major Y: Y[m][n] for m < m_valid, n < n_valid. With `stream`,
// whole aligned lines go out as streaming stores (the caller fences).
template <size_t P>
inline void store_transposed_tile(const float (*tile)[P], size_t m_valid, size_t n_valid,
                                  float* y, size_t ldy, bool stream) {
  const __mmask16 cols = __mmask16((1u << n_valid) - 1);
  for (size_t b = 0; b * 16 < m_valid; ++b) {
    __m512i r[16];
#pragma GCC unroll 16
    for (int n = 0; n < 16; ++n) r[n] = _mm512_load_si512(tile[n] + b * 16);
    transpose16x16(r);
    const size_t rows = m_valid - b * 16 < 16 ? m_valid - b * 16 : 16;
    // Y (M·N·4 bytes, 25 MB for a BERT FFN layer) does not fit in cache: whole aligned
    // lines go out as streaming stores, so writing Y costs no read-for-ownership traffic.
    const bool whole_lines =
        stream && n_valid == 16 && (reinterpret_cast<uintptr_t>(y) | ldy * 4) % 64 == 0;
    for (size_t i = 0; i < rows; ++i) {
      if (whole_lines) {
        _mm512_stream_ps(y + (b * 16 + i) * ldy, _mm512_castsi512_ps(r[i]));
      } else {
        _mm512_mask_storeu_ps(y + (b * 16 + i) * ldy, cols, _mm512_castsi512_ps(r[i]));
      }
    }
  }
}

}  // namespace
}  // namespace sparq::kernels::avx512
