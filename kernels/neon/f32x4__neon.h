// 4 f32 lanes of aarch64 NEON, the vector type kernels/transformer_ops_simd.h is written over.
#pragma once

#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sparq::kernels {

struct F32x4 {
  using reg = float32x4_t;
  static constexpr size_t width = 4;
  static constexpr size_t registers = 32;
  static reg load(const float* p) { return vld1q_f32(p); }
  static void store(float* p, reg v) { vst1q_f32(p, v); }
  // NEON has no masked loads: tails go through a small buffer.
  static reg load_tail(const float* p, size_t n, float fill) {
    float b[4] = {fill, fill, fill, fill};
    std::memcpy(b, p, n * sizeof(float));
    return vld1q_f32(b);
  }
  // FCVTL widens halves exactly (base Armv8-A, no FP16 arithmetic needed).
  static reg load_f16(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static reg load_i8(const int8_t* p) {
    int32_t four;
    std::memcpy(&four, p, sizeof four);
    const int16x8_t wide = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(four)));
    return vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide)));
  }
  static void store_tail(float* p, reg v, size_t n) {
    float b[4];
    vst1q_f32(b, v);
    std::memcpy(p, b, n * sizeof(float));
  }
  static reg set1(float f) { return vdupq_n_f32(f); }
  static reg add(reg a, reg b) { return vaddq_f32(a, b); }
  static reg sub(reg a, reg b) { return vsubq_f32(a, b); }
  static reg mul(reg a, reg b) { return vmulq_f32(a, b); }
  static reg div(reg a, reg b) { return vdivq_f32(a, b); }
  static reg fma(reg a, reg b, reg c) { return vfmaq_f32(c, a, b); }
  static reg min(reg a, reg b) { return vminq_f32(a, b); }
  static reg max(reg a, reg b) { return vmaxq_f32(a, b); }
  static reg abs(reg a) { return vabsq_f32(a); }
  static reg round(reg a) { return vrndnq_f32(a); }
  // 2^n built in the exponent field, in two halves so n = 128 and n = -127 stay normal.
  static reg scale_pow2(reg x, reg n) {
    const int32x4_t ni = vcvtnq_s32_f32(n);
    const int32x4_t n1 = vshrq_n_s32(ni, 1);
    const int32x4_t n2 = vsubq_s32(ni, n1);
    const int32x4_t bias = vdupq_n_s32(127);
    const reg s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    const reg s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
    return vmulq_f32(vmulq_f32(x, s1), s2);
  }
  static reg select_lt(reg a, reg b, reg t, reg f) { return vbslq_f32(vcltq_f32(a, b), t, f); }
  static reg select_gt(reg a, reg b, reg t, reg f) { return vbslq_f32(vcgtq_f32(a, b), t, f); }
  static float reduce_add(reg v) { return vaddvq_f32(v); }
  static float reduce_max(reg v) { return vmaxvq_f32(v); }
  // r[i] lane j <-> r[j] lane i: pairs of rows interleaved, then 64-bit halves.
  static void transpose(reg* r) {
    const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r[0], r[1]));
    const float64x2_t t1 = vreinterpretq_f64_f32(vtrn2q_f32(r[0], r[1]));
    const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r[2], r[3]));
    const float64x2_t t3 = vreinterpretq_f64_f32(vtrn2q_f32(r[2], r[3]));
    r[0] = vreinterpretq_f32_f64(vtrn1q_f64(t0, t2));
    r[1] = vreinterpretq_f32_f64(vtrn1q_f64(t1, t3));
    r[2] = vreinterpretq_f32_f64(vtrn2q_f64(t0, t2));
    r[3] = vreinterpretq_f32_f64(vtrn2q_f64(t1, t3));
  }
};

}  // namespace sparq::kernels
