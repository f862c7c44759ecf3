// The activation quantizer of kernels/dense_gemm.h, 16 values at a time. vcvtps2dq rounds
// to nearest even, as nearbyint does in the scalar definition, so both give identical
// bytes.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/dense_gemm_ukernel.h"
#include "kernels/q8_inverse_scale.h"

namespace sparq::kernels {

void q8_quantize_row__avx512(const float* x, size_t k, size_t group, size_t group_stride,
                             int8_t* q, int32_t* sums, float* scale) {
  __m512 vmax = _mm512_setzero_ps();
  for (size_t i = 0; i < k; i += 16) {
    const __mmask16 m = k - i >= 16 ? 0xFFFF : __mmask16((1u << (k - i)) - 1);
    vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, x + i)));
  }
  const float amax = _mm512_reduce_max_ps(vmax);
  const float inv = q8_inverse_scale(amax);
  *scale = amax / 127.0f;
  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  const size_t groups = (k + group - 1) / group;
  for (size_t g = 0; g < groups; ++g) {
    const size_t valid = std::min(group, k - g * group);
    const float* xg = x + g * group;
    __m512i vsum = _mm512_setzero_si512();
    for (size_t i = 0; i < group_stride; i += 16) {
      const size_t n = valid > i ? std::min<size_t>(valid - i, 16) : 0;
      const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), xg + i), vinv);
      const __m512i qi = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(v), lo), hi);
      vsum = _mm512_add_epi32(vsum, qi);
      alignas(16) int8_t bytes[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(bytes), _mm512_cvtepi32_epi8(qi));
      const size_t p = g * group_stride + i;
      const size_t chunks = std::min<size_t>(group_stride - i, 16) / 4;
      std::memcpy(q + p, bytes, chunks * 4);
    }
    sums[g] = _mm512_reduce_add_epi32(vsum);
  }
}

}  // namespace sparq::kernels
