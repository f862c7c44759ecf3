// q8 activation panels for the sparse SpMM kernels (pack_sparse.h), AVX-512: quantize rows
// of X exactly as quantize_row_q8__ref does (same scale, same round-to-nearest-even), then
// turn 16 rows x 16 quads at a time into K-major order by register transposes.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/avx512/sparse_transpose__avx512.h"
#include "kernels/pack_sparse.h"

namespace sparq::kernels {

namespace {

inline __mmask16 tail_mask(size_t remaining) {
  return remaining >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << remaining) - 1);
}

// Row of X -> u8 (q + 128), `padded` bytes (≥ k, multiple of 4) with q = 0 past k.
float quantize_row_u8(const float* x, size_t k, size_t padded, uint8_t* out) {
  __m512 amax = _mm512_setzero_ps();
  for (size_t c = 0; c < k; c += 16) {
    amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_maskz_loadu_ps(tail_mask(k - c), x + c)));
  }
  const float m = _mm512_reduce_max_ps(amax);
  std::memset(out, 0x80, padded);
  if (m == 0.0f) return 0.0f;
  const __m512 inv = _mm512_set1_ps(127.0f / m);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  const __m512i offset = _mm512_set1_epi32(128);
  for (size_t c = 0; c < k; c += 16) {
    const __mmask16 live = tail_mask(k - c);
    __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(live, x + c), inv));
    q = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(q, lo), hi), offset);
    _mm512_mask_cvtepi32_storeu_epi8(out + c, live, q);
  }
  return m / 127.0f;
}

}  // namespace

void pack_q8_panel__avx512(const float* x, size_t rows, size_t k, size_t panel_rows,
                           uint8_t* panel, float* scales) {
  const size_t k4 = (k + 3) / 4;
  if (panel_rows == 1) {  // the SpMV layout is the row itself
    scales[0] = rows ? quantize_row_u8(x, k, k4 * 4, panel) : 0.0f;
    if (!rows) std::memset(panel, 0x80, k4 * 4);
    return;
  }
  // 16 rows quantized into a staging area, then transposed as 16x16 dwords (quads).
  const size_t k4_padded = (k4 + 15) / 16 * 16;
  thread_local std::vector<uint8_t> stage;
  stage.resize(16 * k4_padded * 4);
  for (size_t m0 = 0; m0 < panel_rows; m0 += 16) {
    for (size_t i = 0; i < 16; ++i) {
      uint8_t* row = stage.data() + i * k4_padded * 4;
      const size_t m = m0 + i;
      if (m < rows) {
        scales[m] = quantize_row_u8(x + m * k, k, k4_padded * 4, row);
      } else {
        if (m < panel_rows) scales[m] = 0.0f;
        std::memset(row, 0x80, k4_padded * 4);
      }
    }
    for (size_t q0 = 0; q0 < k4; q0 += 16) {
      __m512i r[16];
      for (size_t i = 0; i < 16; ++i) {
        r[i] = _mm512_loadu_si512(stage.data() + (i * k4_padded + q0) * 4);
      }
      avx512::transpose16x16(r);
      for (size_t j = 0; j < 16 && q0 + j < k4; ++j) {
        _mm512_storeu_si512(panel + ((q0 + j) * panel_rows + m0) * 4, r[j]);
      }
    }
  }
}

}  // namespace sparq::kernels
