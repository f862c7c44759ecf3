// 16x16 transposes of 32-bit elements in AVX-512 registers: the sparse SpMM kernels compute
// output columns (one output row of W against 64 rows of X) and the panel packers turn rows
// of X into K-major panels; both cross over through these.
#pragma once

#include <immintrin.h>

namespace sparq::kernels::avx512 {

// r[i] holds row i; afterwards r[i] holds column i. Each stage d swaps element (i, c) with
// (i ^ d, c ^ d) where bit d of c differs from bit d of i, i.e. exchanges bit d of the row
// and column index; after d = 8, 4, 2, 1 every (i, c) has moved to (c, i).
inline void transpose16x16(__m512i (&r)[16]) {
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  for (int d = 8; d >= 1; d /= 2) {
    const __mmask16 high = _mm512_test_epi32_mask(lane, _mm512_set1_epi32(d));
    // Row i keeps its low-half columns and takes row i+d's from d to the left; row i+d
    // takes row i's columns from d to the right and keeps its own high half.
    const __m512i lo = _mm512_mask_add_epi32(lane, high, lane, _mm512_set1_epi32(16 - d));
    const __m512i hi = _mm512_mask_add_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32(d)),
                                             high, lane, _mm512_set1_epi32(16));
    for (int i = 0; i < 16; ++i) {
      if (i & d) continue;
      const __m512i a = r[i], b = r[i + d];
      r[i] = _mm512_permutex2var_epi32(a, lo, b);
      r[i + d] = _mm512_permutex2var_epi32(a, hi, b);
    }
  }
}

// Writes a tile of results computed as columns, tile[n][m] (16 outputs x 16·blocks rows of
// X), into row-major Y: Y[m][n] for m < m_valid, n < n_valid.
inline void store_transposed_tile(const float (*tile)[64], size_t blocks, size_t m_valid,
                                  size_t n_valid, float* y, size_t ldy) {
  const __mmask16 cols = __mmask16((1u << n_valid) - 1);
  for (size_t b = 0; b < blocks && b * 16 < m_valid; ++b) {
    __m512i r[16];
    for (int n = 0; n < 16; ++n) r[n] = _mm512_load_si512(tile[n] + b * 16);
    transpose16x16(r);
    const size_t rows = m_valid - b * 16 < 16 ? m_valid - b * 16 : 16;
    for (size_t i = 0; i < rows; ++i) {
      _mm512_mask_storeu_ps(y + (b * 16 + i) * ldy, cols, _mm512_castsi512_ps(r[i]));
    }
  }
}

}  // namespace sparq::kernels::avx512
