// f32 activation panels for the sparse SpMM kernels (pack_sparse.h), AVX-512: X transposed
// 16 rows x 16 columns at a time by register transposes.
#include <immintrin.h>

#include "kernels/avx512/sparse_transpose__avx512.h"
#include "kernels/pack_sparse.h"

namespace sparq::kernels {

void pack_f32_panel__avx512(const float* x, size_t rows, size_t k, size_t panel_rows,
                            float* panel) {
  for (size_t m0 = 0; m0 < panel_rows; m0 += 16) {
    for (size_t c0 = 0; c0 < k; c0 += 16) {
      const __mmask16 live = k - c0 >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (k - c0)) - 1);
      __m512i r[16];
      for (size_t i = 0; i < 16; ++i) {
        r[i] = m0 + i < rows
                   ? _mm512_castps_si512(_mm512_maskz_loadu_ps(live, x + (m0 + i) * k + c0))
                   : _mm512_setzero_si512();
      }
      avx512::transpose16x16(r);
      for (size_t j = 0; j < 16 && c0 + j < k; ++j) {
        _mm512_storeu_si512(panel + (c0 + j) * panel_rows + m0, r[j]);
      }
    }
  }
}

}  // namespace sparq::kernels
