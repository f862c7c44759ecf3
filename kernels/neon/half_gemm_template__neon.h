// The f16 and bf16 GEMM of the neon level, written once over the widening (the weight
// type), the tile height MR and the number U of independent accumulator sets along k, and
// instantiated by kernels/neon/half_gemm_6x16__neon.cpp (prefill) and
// half_gemv_4x16__neon.cpp (decode). Panels are the f32 layout with 2-byte values: per k
// step 16 outputs in 32 bytes, widened exactly to f32 by fcvtl/fcvtl2 (f16) or a 16-bit
// shll (bf16, the upper half of an f32), both base Armv8-A.
#pragma once

#include <arm_neon.h>

#include <algorithm>
#include <cstdint>

#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels {
namespace {

struct WidenF16x8 {
  static void load(const uint16_t* p, float32x4_t& lo, float32x4_t& hi) {
    const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(p));
    lo = vcvt_f32_f16(vget_low_f16(h));
    hi = vcvt_high_f32_f16(h);
  }
};

struct WidenBf16x8 {
  static void load(const uint16_t* p, float32x4_t& lo, float32x4_t& hi) {
    const uint16x8_t h = vld1q_u16(p);
    lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
    hi = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
  }
};

// MR rows x 16 outputs (4 q registers per row). With U > 1, k steps c, ..., c+U-1 go to U
// accumulator sets added at the end: a GEMV of one row then keeps 4·U FMA chains in flight.
template <class Widen, size_t MR, size_t U>
void half_gemm_neon(const HalfGemmTile& t) {
  constexpr size_t NR = 16, NV = 4;
  const float* x[MR];
  for (size_t i = 0; i < MR; ++i) x[i] = t.x + std::min(i, t.mr - 1) * t.x_stride;
  float32x4_t acc[U][MR][NV];
  for (size_t u = 0; u < U; ++u)
    for (size_t i = 0; i < MR; ++i)
      for (size_t v = 0; v < NV; ++v) acc[u][i][v] = vdupq_n_f32(0.0f);
  const uint16_t* w = t.w;
  size_t c = 0;
  for (; c + U <= t.k; c += U, w += U * NR) {
#pragma GCC unroll 4
    for (size_t u = 0; u < U; ++u) {
      float32x4_t wv[NV];
      Widen::load(w + u * NR, wv[0], wv[1]);
      Widen::load(w + u * NR + 8, wv[2], wv[3]);
#pragma GCC unroll 6
      for (size_t i = 0; i < MR; ++i) {
        const float xv = x[i][c + u];
        for (size_t v = 0; v < NV; ++v) acc[u][i][v] = vfmaq_n_f32(acc[u][i][v], wv[v], xv);
      }
    }
  }
  for (; c < t.k; ++c, w += NR) {
    float32x4_t wv[NV];
    Widen::load(w, wv[0], wv[1]);
    Widen::load(w + 8, wv[2], wv[3]);
#pragma GCC unroll 6
    for (size_t i = 0; i < MR; ++i) {
      const float xv = x[i][c];
      for (size_t v = 0; v < NV; ++v) acc[0][i][v] = vfmaq_n_f32(acc[0][i][v], wv[v], xv);
    }
  }
  // Spilled with constant indices only, as in f32_gemm_6x16__neon: indexing acc by the
  // run-time t.mr would keep every accumulator in memory.
  float rows[MR][NR];
#pragma GCC unroll 6
  for (size_t i = 0; i < MR; ++i) {
    for (size_t v = 0; v < NV; ++v) {
      for (size_t u = 1; u < U; ++u) acc[0][i][v] = vaddq_f32(acc[0][i][v], acc[u][i][v]);
      vst1q_f32(rows[i] + 4 * v, acc[0][i][v]);
    }
  }
  for (size_t i = 0; i < t.mr; ++i) {
    float* y = t.y + i * t.y_stride;
    for (size_t j = 0; j < t.nr; ++j) y[j] = rows[i][j] + (t.bias ? t.bias[j] : 0.0f);
  }
}

// Decode: exactly t.mr <= 4 rows, with the accumulator sets that keep 16 FMA chains busy.
template <class Widen>
void half_gemv_neon(const HalfGemmTile& t) {
  switch (t.mr) {
    case 1: half_gemm_neon<Widen, 1, 4>(t); break;
    case 2: half_gemm_neon<Widen, 2, 2>(t); break;
    case 3: half_gemm_neon<Widen, 3, 1>(t); break;
    default: half_gemm_neon<Widen, 4, 1>(t); break;
  }
}

}  // namespace
}  // namespace sparq::kernels
