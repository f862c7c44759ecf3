// The activation quantization rule of q8_quantize_row__ref, 8 values at a time, shared by
// the AVX2 dense row quantizer and sparse panel packer. vcvtps2dq rounds to nearest even, as
// nearbyint does in the scalar definition, so both give identical bytes.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx2/f32x8__avx2.h"

namespace sparq::kernels::avx2 {

// max |x[i]| over k values. |x| is max_ps's first operand so that a NaN is skipped, as
// std::max(amax, |x|) skips it in the scalar rule.
inline float abs_max(const float* x, size_t k) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= k; i += 8) m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)), m);
  if (i < k) m = _mm256_max_ps(_mm256_andnot_ps(sign, F32x8::load_tail(x + i, k - i, 0.0f)), m);
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

// x[0, n) (n <= 8; lanes past n are 0) times inv, rounded and clamped to [-127, 127].
inline __m256i quantize8(const float* x, size_t n, __m256 inv) {
  const __m256 v = n >= 8 ? _mm256_loadu_ps(x) : F32x8::load_tail(x, n, 0.0f);
  const __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(v, inv));
  return _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(-127)), _mm256_set1_epi32(127));
}

// The 8 lanes of quantize8's result as 8 int8 bytes, lane 0 in the lowest byte.
inline uint64_t to_bytes(__m256i q) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  return uint64_t(_mm_cvtsi128_si64(_mm_packs_epi16(w, w)));
}

inline int32_t sum_lanes(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

}  // namespace sparq::kernels::avx2
