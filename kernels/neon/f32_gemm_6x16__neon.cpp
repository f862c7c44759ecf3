#include <arm_neon.h>

#include <algorithm>

#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels {

// 6 rows x 16 outputs: 24 accumulators + 4 panel vectors of the 32 q registers.
void f32_gemm_6x16__neon(const F32GemmTile& t) {
  constexpr size_t MR = 6, NR = 16, NV = 4;
  const float* x[MR];
  for (size_t i = 0; i < MR; ++i) x[i] = t.x + std::min(i, t.mr - 1) * t.x_stride;
  float32x4_t acc[MR][NV];
  for (size_t i = 0; i < MR; ++i)
    for (size_t v = 0; v < NV; ++v) acc[i][v] = vdupq_n_f32(0.0f);
  const float* w = t.w;
  for (size_t c = 0; c < t.k; ++c, w += NR) {
    float32x4_t wv[NV];
    for (size_t v = 0; v < NV; ++v) wv[v] = vld1q_f32(w + 4 * v);
#pragma GCC unroll 6
    for (size_t i = 0; i < MR; ++i) {
      const float xv = x[i][c];
      for (size_t v = 0; v < NV; ++v) acc[i][v] = vfmaq_n_f32(acc[i][v], wv[v], xv);
    }
  }
  // Spilled with constant indices only: indexing acc by the run-time t.mr made GCC keep
  // every accumulator in memory too, storing all 24 on each K step.
  float rows[MR][NR];
#pragma GCC unroll 6
  for (size_t i = 0; i < MR; ++i)
    for (size_t v = 0; v < NV; ++v) vst1q_f32(rows[i] + 4 * v, acc[i][v]);
  for (size_t i = 0; i < t.mr; ++i) {
    float* y = t.y + i * t.y_stride;
    for (size_t j = 0; j < t.nr; ++j) y[j] = rows[i][j] + (t.bias ? t.bias[j] : 0.0f);
  }
}

}  // namespace sparq::kernels
