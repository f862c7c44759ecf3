// The q8 and q4 GEMM of the aarch64 levels, over the dword packing: a q register holds 4
// outputs x 4 columns. Both operands are signed (q8 as stored, q4 nibbles 0..15 are valid s8), so
// no zero-point trick is needed for q8. Two ways to form the 4-column dot products:
// sdot (dotprod), or smull/smull2 into 16-bit products (exact: |q·x| ≤ 128·128) gathered
// pairwise into int32 by sadalp, the last pair folded at the end of each group by addp.
//
// Written once over the accumulator `Acc` (add(w, x) adds the 4-column dot products of w
// and x to 4 int32 lanes; total() returns them) and instantiated by
// kernels/neon*/q_gemm_4x16__*.cpp; SdotAccumulator exists only where the compiler targets
// dotprod. Include only from kernels/neon* translation units. Everything here has internal
// linkage: a copy compiled with one level's flags must never be the one the linker keeps for
// another level's kernels.
#pragma once

#include <arm_neon.h>

#include <algorithm>

#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels {
namespace {

struct WideningAccumulator {
  int32x4_t low = vdupq_n_s32(0), high = vdupq_n_s32(0);
  void add(int8x16_t w, int8x16_t x) {
    low = vpadalq_s16(low, vmull_s8(vget_low_s8(w), vget_low_s8(x)));
    high = vpadalq_s16(high, vmull_high_s8(w, x));
  }
  int32x4_t total() const { return vpaddq_s32(low, high); }
};

#if defined(__ARM_FEATURE_DOTPROD)
struct SdotAccumulator {
  int32x4_t sum = vdupq_n_s32(0);
  void add(int8x16_t w, int8x16_t x) { sum = vdotq_s32(sum, w, x); }
  int32x4_t total() const { return sum; }
};
#endif

inline int8x16_t broadcast_dword(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

template <size_t MR, class Acc, bool kNibbles>
void q_gemm_neon(const QGemmTile& t) {
  constexpr size_t NR = 16, NV = 4;
  constexpr size_t KC = kNibbles ? 8 : 4;
  constexpr size_t chunk_bytes = kNibbles ? NR * KC / 2 : NR * KC;
  const QTileRows<MR> rows = q_tile_rows<MR>(t);
  const auto& x = rows.x;
  const auto& xs = rows.sums;
  float32x4_t acc[MR][NV];
  for (size_t i = 0; i < MR; ++i)
    for (size_t v = 0; v < NV; ++v) acc[i][v] = vdupq_n_f32(0.0f);
  const uint8_t* w = t.w;
  const uint8x16_t low_nibbles = vdupq_n_u8(0x0F);
  for (size_t g = 0; g < t.groups; ++g) {
    Acc dot[MR][NV];
    const size_t x_off = g * t.group_stride;
    for (size_t c = 0; c < t.group_stride; c += KC, w += chunk_bytes) {
      int8x16_t wa[NV], wb[NV];
      for (size_t v = 0; v < NV; ++v) {
        const uint8x16_t raw = vld1q_u8(w + 16 * v);
        if constexpr (kNibbles) {
          wa[v] = vreinterpretq_s8_u8(vandq_u8(raw, low_nibbles));
          wb[v] = vreinterpretq_s8_u8(vshrq_n_u8(raw, 4));
        } else {
          wa[v] = vreinterpretq_s8_u8(raw);
        }
      }
#pragma GCC unroll 4
      for (size_t i = 0; i < MR; ++i) {
        const int8x16_t xa = broadcast_dword(x[i] + x_off + c);
        for (size_t v = 0; v < NV; ++v) dot[i][v].add(wa[v], xa);
        if constexpr (kNibbles) {
          const int8x16_t xb = broadcast_dword(x[i] + x_off + c + 4);
          for (size_t v = 0; v < NV; ++v) dot[i][v].add(wb[v], xb);
        }
      }
    }
    const float* sw = t.w_scale + g * NR;
    const float* mw = t.w_min ? t.w_min + g * NR : nullptr;
    for (size_t i = 0; i < MR; ++i) {
      const int32x4_t zp = vdupq_n_s32(t.zero_point * xs[i][g]);
      const float xsum = float(xs[i][g]);
      for (size_t v = 0; v < NV; ++v) {
        const float32x4_t d = vcvtq_f32_s32(vsubq_s32(dot[i][v].total(), zp));
        acc[i][v] = vfmaq_f32(acc[i][v], vld1q_f32(sw + 4 * v), d);
        if (mw) acc[i][v] = vfmaq_n_f32(acc[i][v], vld1q_f32(mw + 4 * v), xsum);
      }
    }
  }
  for (size_t i = 0; i < t.mr; ++i) {
    float row[NR];
    for (size_t v = 0; v < NV; ++v) vst1q_f32(row + 4 * v, vmulq_n_f32(acc[i][v], t.x_scale[i]));
    float* y = t.y + i * t.y_stride;
    for (size_t j = 0; j < t.nr; ++j) y[j] = row[j] + (t.bias ? t.bias[j] : 0.0f);
  }
}

// Instantiated for the exact row count, so GEMV (M = 1..3) and row edges do not compute
// rows they then throw away.
template <class Acc, bool kNibbles>
void q_gemm_4x16_neon(const QGemmTile& t) {
  switch (t.mr) {
    case 1: return q_gemm_neon<1, Acc, kNibbles>(t);
    case 2: return q_gemm_neon<2, Acc, kNibbles>(t);
    case 3: return q_gemm_neon<3, Acc, kNibbles>(t);
    default: return q_gemm_neon<4, Acc, kNibbles>(t);
  }
}

}  // namespace
}  // namespace sparq::kernels
