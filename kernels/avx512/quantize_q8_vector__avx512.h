// The q8 rule for one vector, 16 lanes at a time: q_i = round(x_i · 127 / max|x|) (to nearest
// even, as quantize_row_q8__ref and the q8 KV encoding round), scale max|x| / 127. Shared by the
// sparse kernels' activation panels and the int8 attention kernel.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/avx512/f32x16__avx512.h"
#include "kernels/q8_inverse_scale.h"

namespace sparq::kernels::avx512 {
// Internal linkage: the avx512 and avx512vnni levels each compile their own copy with their
// own flags, and the linker must not keep one for the other.
namespace {

// Lanes [i, n) of the 16 starting at i.
inline __mmask16 lanes_below(size_t n, size_t i) {
  return i >= n ? __mmask16(0) : n - i >= 16 ? F32x16::kAll : F32x16::tail_mask(n - i);
}

// x (n floats) -> bytes q[0, padded) (padded >= n): q_i + offset, and offset alone past n.
// Returns the scale (0 for a zero vector, whose q are all 0), and Σq_i in *sum when asked.
inline float quantize_q8_vector(const float* x, size_t n, size_t padded, int32_t offset, uint8_t* q,
                                int32_t* sum = nullptr) {
  __m512 amax = _mm512_setzero_ps();
  for (size_t i = 0; i < n; i += 16)
    amax = F32x16::max(amax, F32x16::abs(_mm512_maskz_loadu_ps(lanes_below(n, i), x + i)));
  const float m = F32x16::reduce_max(amax);
  const __m512 inv = _mm512_set1_ps(q8_inverse_scale(m));
  const __m512i add = _mm512_set1_epi32(offset);
  __m512i total = _mm512_setzero_si512();
  for (size_t i = 0; i < padded; i += 16) {
    // |x_i · (127 / m)| is 127 times at most two roundings of 1 + 2^-24: it rounds into [-127, 127].
    const __m512i v = _mm512_maskz_cvtps_epi32(
        F32x16::kAll, _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes_below(n, i), x + i), inv));
    total = _mm512_add_epi32(total, v);
    _mm512_mask_cvtepi32_storeu_epi8(q + i, lanes_below(padded, i), _mm512_add_epi32(v, add));
  }
  if (sum) *sum = _mm512_reduce_add_epi32(total);
  return m / 127.0f;
}

}  // namespace
}  // namespace sparq::kernels::avx512
