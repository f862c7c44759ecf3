#include <immintrin.h>

#include <algorithm>

#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels {

// 6 rows x 16 outputs: 12 ymm accumulators + 2 panel vectors + 1 broadcast fill the 16
// registers.
void f32_gemm_6x16__avx2(const F32GemmTile& t) {
  constexpr size_t MR = 6, NR = 16;
  const float* x[MR];
  for (size_t i = 0; i < MR; ++i) x[i] = t.x + std::min(i, t.mr - 1) * t.x_stride;
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (size_t i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  const float* w = t.w;
  for (size_t c = 0; c < t.k; ++c, w += NR) {
    const __m256 w0 = _mm256_load_ps(w), w1 = _mm256_load_ps(w + 8);
#pragma GCC unroll 6
    for (size_t i = 0; i < MR; ++i) {
      const __m256 xb = _mm256_broadcast_ss(x[i] + c);
      acc[i][0] = _mm256_fmadd_ps(xb, w0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(xb, w1, acc[i][1]);
    }
  }
  // Spilled with constant indices only: indexing acc by the run-time t.mr made GCC keep
  // every accumulator in memory too, a store per FMA pair that halved the speed.
  alignas(32) float rows[MR][NR];
#pragma GCC unroll 6
  for (size_t i = 0; i < MR; ++i) {
    _mm256_store_ps(rows[i], acc[i][0]);
    _mm256_store_ps(rows[i] + 8, acc[i][1]);
  }
  for (size_t i = 0; i < t.mr; ++i) {
    float* y = t.y + i * t.y_stride;
    for (size_t j = 0; j < t.nr; ++j) y[j] = rows[i][j] + (t.bias ? t.bias[j] : 0.0f);
  }
}

}  // namespace sparq::kernels
