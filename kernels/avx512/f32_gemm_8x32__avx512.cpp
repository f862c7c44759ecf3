#include <immintrin.h>

#include <algorithm>

#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels {

// 8 rows x 32 outputs: 16 zmm accumulators; per k two panel loads and eight broadcasts
// feed sixteen FMAs, so the FMA ports, not the loads, bound the loop.
void f32_gemm_8x32__avx512(const F32GemmTile& t) {
  constexpr size_t MR = 8, NR = 32;
  const float* x[MR];
  for (size_t i = 0; i < MR; ++i) x[i] = t.x + std::min(i, t.mr - 1) * t.x_stride;
  __m512 acc[MR][2];
#pragma GCC unroll 8
  for (size_t i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  const float* w = t.w;
  for (size_t c = 0; c < t.k; ++c, w += NR) {
    const __m512 w0 = _mm512_load_ps(w), w1 = _mm512_load_ps(w + 16);
#pragma GCC unroll 8
    for (size_t i = 0; i < MR; ++i) {
      const __m512 xb = _mm512_set1_ps(x[i][c]);
      acc[i][0] = _mm512_fmadd_ps(xb, w0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(xb, w1, acc[i][1]);
    }
  }
  const size_t nr = t.nr;
  const __mmask16 m0 = nr >= 16 ? 0xFFFF : __mmask16((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : __mmask16((1u << (nr - 16)) - 1);
  __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
  if (t.bias) {
    b0 = _mm512_maskz_loadu_ps(m0, t.bias);
    b1 = _mm512_maskz_loadu_ps(m1, t.bias + 16);
  }
  for (size_t i = 0; i < t.mr; ++i) {
    float* y = t.y + i * t.y_stride;
    _mm512_mask_storeu_ps(y, m0, _mm512_add_ps(acc[i][0], b0));
    _mm512_mask_storeu_ps(y + 16, m1, _mm512_add_ps(acc[i][1], b1));
  }
}

}  // namespace sparq::kernels
