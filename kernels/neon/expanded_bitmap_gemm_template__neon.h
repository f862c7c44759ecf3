// The aarch64 expanded GEMMs of the prefill path (BitmapExpandedGemmTile,
// kernels/bitmap_gemm.h), one template over the level's int8 dot product. One X row per
// 32-bit lane, NV vectors of 4 rows, against NR weight rows read 16 bytes (4 steps of 4
// columns) at a time: per 4 steps, NR weight loads and 4 · NV X loads feed NR · NV
// four-step dot products (the x86 template's scheme, kernels/avx2/
// expanded_bitmap_gemm_template__avx2.h, with sdot's indexed form taking each step's 4
// weight bytes from a lane instead of a broadcast).
//
// Groups are visited in order, each (weight row, X vector)'s d_j added into its lane j % 8
// of a parked accumulator block by one fused multiply-add, so every lane takes its groups
// in increasing order (the header's rule); the 8 lanes are combined in the fixed order at
// the end. Include only from kernels/neon* translation units; internal linkage throughout,
// as kernels/neon/bitmap_gemm_template__neon.h.
#pragma once

#include <arm_neon.h>

#include <algorithm>
#include <cstdint>

#include "kernels/bitmap_gemm.h"

namespace sparq::kernels {
namespace {

// Dot provides: Acc (a four-step accumulator of 4 X rows) and zero(); W (4 steps of one
// weight row, prepared) and weights(p) (from its 16 bytes); dot4(acc, x, w) (acc + the 4
// steps' 4-byte dot products of X vectors x[0..3] with w, per X row, exact); total(acc)
// (the 4 rows' int32 sums).
template <class Dot, size_t NR, size_t NV>
void expanded_bitmap_gemm_neon(const BitmapExpandedGemmTile& t) {
  constexpr size_t MR = 4 * NV, kStepBytes = 4 * MR;
  const uint8_t* w[NR];
  const float* scales[NR];
  for (size_t r = 0; r < NR; ++r) {
    const size_t row = std::min(r, t.rows - 1);
    w[r] = t.w + row * t.w_stride;
    scales[r] = t.scales + row * t.groups;
  }
  float32x4_t lanes[kBitmapGroupLanes][NR][NV];
  for (size_t l = 0; l < kBitmapGroupLanes; ++l)
    for (size_t r = 0; r < NR; ++r)
      for (size_t v = 0; v < NV; ++v) lanes[l][r][v] = vdupq_n_f32(0.0f);
  // Steps come 4 at a time: a group is 8 · (group / 32) steps, a row 8 per word.
  for (size_t j = 0; j < t.groups; ++j) {
    typename Dot::Acc acc[NR][NV];
    for (size_t r = 0; r < NR; ++r)
      for (size_t v = 0; v < NV; ++v) acc[r][v] = Dot::zero();
    const size_t s_end = std::min(t.steps, (j + 1) * t.group_steps);
    for (size_t s = j * t.group_steps; s < s_end; s += 4) {
      typename Dot::W wq[NR];
      for (size_t r = 0; r < NR; ++r) wq[r] = Dot::weights(w[r] + 4 * s);
      const int8_t* xs = t.x + s * kStepBytes;
      for (size_t v = 0; v < NV; ++v) {
        int8x16_t x[4];
        for (size_t q = 0; q < 4; ++q) x[q] = vld1q_s8(xs + q * kStepBytes + 16 * v);
        for (size_t r = 0; r < NR; ++r) acc[r][v] = Dot::dot4(acc[r][v], x, wq[r]);
      }
    }
    float32x4_t(&lane)[NR][NV] = lanes[j % kBitmapGroupLanes];
    for (size_t r = 0; r < NR; ++r) {
      const float32x4_t sw = vdupq_n_f32(scales[r][j]);
      for (size_t v = 0; v < NV; ++v)
        lane[r][v] = vfmaq_f32(lane[r][v], sw, vcvtq_f32_s32(Dot::total(acc[r][v])));
    }
  }
  alignas(16) float y[4];
  for (size_t v = 0; v < NV && 4 * v < t.mr; ++v) {
    const float32x4_t sx = vld1q_f32(t.x_scale + 4 * v);
    const size_t live = std::min<size_t>(4, t.mr - 4 * v);
    for (size_t r = 0; r < t.rows; ++r) {
      const auto l = [&](size_t i) { return lanes[i][r][v]; };
      // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), the header's order.
      const float32x4_t sum =
          vaddq_f32(vaddq_f32(vaddq_f32(l(0), l(4)), vaddq_f32(l(2), l(6))),
                    vaddq_f32(vaddq_f32(l(1), l(5)), vaddq_f32(l(3), l(7))));
      vst1q_f32(y, vfmaq_f32(vdupq_n_f32(t.bias ? t.bias[r] : 0.0f), sx, sum));
      for (size_t i = 0; i < live; ++i) t.y[(4 * v + i) * t.y_stride + r] = y[i];
    }
  }
}

// smull + smlal of two steps into 16-bit pairs (|pair| ≤ 2 · 128 · 127), gathered into
// int32 by sadalp: rows 0-1 in `low`, rows 2-3 in `high`, two lanes each.
struct WideningExpandedDot {
  struct Acc {
    int32x4_t low, high;
  };
  struct W {
    int8x16_t step[4];  // each step's 4 bytes in every lane
  };
  static Acc zero() { return {vdupq_n_s32(0), vdupq_n_s32(0)}; }
  static W weights(const uint8_t* p) {
    const int32x4_t v = vreinterpretq_s32_u8(vld1q_u8(p));
    return {{vreinterpretq_s8_s32(vdupq_laneq_s32(v, 0)), vreinterpretq_s8_s32(vdupq_laneq_s32(v, 1)),
             vreinterpretq_s8_s32(vdupq_laneq_s32(v, 2)), vreinterpretq_s8_s32(vdupq_laneq_s32(v, 3))}};
  }
  static Acc dot4(Acc acc, const int8x16_t* x, const W& w) {
    for (size_t q = 0; q < 4; q += 2) {
      const int16x8_t low = vmlal_s8(vmull_s8(vget_low_s8(x[q]), vget_low_s8(w.step[q])),
                                     vget_low_s8(x[q + 1]), vget_low_s8(w.step[q + 1]));
      const int16x8_t high =
          vmlal_high_s8(vmull_high_s8(x[q], w.step[q]), x[q + 1], w.step[q + 1]);
      acc.low = vpadalq_s16(acc.low, low);
      acc.high = vpadalq_s16(acc.high, high);
    }
    return acc;
  }
  static int32x4_t total(const Acc& acc) { return vpaddq_s32(acc.low, acc.high); }
};

#if defined(__ARM_FEATURE_DOTPROD)
// sdot by element: step q's 4 weight bytes are lane q of the row's 16.
struct SdotExpandedDot {
  using Acc = int32x4_t;
  using W = int8x16_t;
  static Acc zero() { return vdupq_n_s32(0); }
  static W weights(const uint8_t* p) { return vreinterpretq_s8_u8(vld1q_u8(p)); }
  static Acc dot4(Acc acc, const int8x16_t* x, W w) {
    acc = vdotq_laneq_s32(acc, x[0], w, 0);
    acc = vdotq_laneq_s32(acc, x[1], w, 1);
    acc = vdotq_laneq_s32(acc, x[2], w, 2);
    return vdotq_laneq_s32(acc, x[3], w, 3);
  }
  static int32x4_t total(Acc acc) { return acc; }
};
#endif

}  // namespace
}  // namespace sparq::kernels
