// 16 f32 lanes of AVX-512F, the vector type kernels/transformer_ops_simd.h is written over.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace sparq::kernels {

// GCC 12's unmasked min/max/scalef/roundscale/extract (and 512->256 cast) intrinsics pass _mm512_undefined_ps()
// as the merge source and then warn that it "may be used uninitialized" (GCC PR 105593);
// the all-lanes masked forms below compile to the same instructions without the warning.
struct F32x16 {
  using reg = __m512;
  static constexpr __mmask16 kAll = 0xffff;
  static constexpr size_t width = 16;
  static constexpr size_t registers = 32;
  static __mmask16 tail_mask(size_t n) { return static_cast<__mmask16>((1u << n) - 1); }
  static reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static reg load_tail(const float* p, size_t n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), tail_mask(n), p);
  }
  static void store_tail(float* p, reg v, size_t n) { _mm512_mask_storeu_ps(p, tail_mask(n), v); }
  static reg load_f16(const uint16_t* p) {
    return _mm512_mask_cvtph_ps(_mm512_setzero_ps(), kAll,
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static reg load_i8(const int8_t* p) {
    const __m512i i32 = _mm512_mask_cvtepi8_epi32(_mm512_setzero_si512(), kAll,
                                                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm512_mask_cvtepi32_ps(_mm512_setzero_ps(), kAll, i32);
  }
  static reg set1(float f) { return _mm512_set1_ps(f); }
  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  static reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static reg min(reg a, reg b) { return _mm512_mask_min_ps(a, kAll, a, b); }
  static reg max(reg a, reg b) { return _mm512_mask_max_ps(a, kAll, a, b); }
  static reg abs(reg a) { return _mm512_abs_ps(a); }
  static reg round(reg a) {
    return _mm512_mask_roundscale_ps(a, kAll, a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // vscalefps computes x * 2^floor(n) with IEEE overflow/underflow in one instruction.
  static reg scale_pow2(reg x, reg n) { return _mm512_mask_scalef_ps(x, kAll, x, n); }
  static reg select_lt(reg a, reg b, reg t, reg f) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), f, t);
  }
  static reg select_gt(reg a, reg b, reg t, reg f) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), f, t);
  }
  template <int kHalf>
  static __m256 half(reg v) {
    return _mm256_castpd_ps(
        _mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xf, _mm512_castps_pd(v), kHalf));
  }
  static float reduce_add(reg v) {
    const __m256 h = _mm256_add_ps(half<0>(v), half<1>(v));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  // r[i] lane j <-> r[j] lane i: pairs of rows interleaved, then quads, then 128-bit lanes.
  static void transpose(reg* r) {
    reg t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_mask_unpacklo_ps(r[i], kAll, r[i], r[i + 1]);
      t[i + 1] = _mm512_mask_unpackhi_ps(r[i], kAll, r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
      u[i] = _mm512_mask_shuffle_ps(t[i], kAll, t[i], t[i + 2], 0x44);
      u[i + 1] = _mm512_mask_shuffle_ps(t[i], kAll, t[i], t[i + 2], 0xee);
      u[i + 2] = _mm512_mask_shuffle_ps(t[i], kAll, t[i + 1], t[i + 3], 0x44);
      u[i + 3] = _mm512_mask_shuffle_ps(t[i], kAll, t[i + 1], t[i + 3], 0xee);
    }
    // u[4g + k], 128-bit lane l, holds rows 4g..4g+3 of column 4l + k.
    for (int k = 0; k < 4; ++k) {
      const reg a = _mm512_mask_shuffle_f32x4(u[k], kAll, u[k], u[4 + k], 0x44);
      const reg b = _mm512_mask_shuffle_f32x4(u[k], kAll, u[k], u[4 + k], 0xee);
      const reg c = _mm512_mask_shuffle_f32x4(u[k], kAll, u[8 + k], u[12 + k], 0x44);
      const reg d = _mm512_mask_shuffle_f32x4(u[k], kAll, u[8 + k], u[12 + k], 0xee);
      r[k] = _mm512_mask_shuffle_f32x4(a, kAll, a, c, 0x88);
      r[4 + k] = _mm512_mask_shuffle_f32x4(a, kAll, a, c, 0xdd);
      r[8 + k] = _mm512_mask_shuffle_f32x4(b, kAll, b, d, 0x88);
      r[12 + k] = _mm512_mask_shuffle_f32x4(b, kAll, b, d, 0xdd);
    }
  }
  static float reduce_max(reg v) {
    const __m256 h = _mm256_max_ps(half<0>(v), half<1>(v));
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
  }
};

}  // namespace sparq::kernels
