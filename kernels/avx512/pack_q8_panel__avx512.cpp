// q8 activation panels for the sparse SpMM kernels (pack_sparse.h), AVX-512: quantize rows
// of X exactly as quantize_row_q8__ref does (same scale, same round-to-nearest-even), as u8
// with +128 for vpdpbusd, then turn 16 rows x 16 quads at a time into K-major order by
// register transposes.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/avx512/quantize_q8_vector__avx512.h"
#include "kernels/avx512/sparse_transpose__avx512.h"
#include "kernels/pack_sparse.h"

namespace sparq::kernels {

void pack_q8_panel__avx512(const float* x, size_t rows, size_t k, size_t panel_rows,
                           uint8_t* panel, float* scales) {
  const size_t k4 = (k + 3) / 4;
  if (panel_rows == 1) {  // the SpMV layout is the row itself
    scales[0] = rows ? avx512::quantize_q8_vector(x, k, k4 * 4, 128, panel) : 0.0f;
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
        scales[m] = avx512::quantize_q8_vector(x + m * k, k, k4_padded * 4, 128, row);
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
