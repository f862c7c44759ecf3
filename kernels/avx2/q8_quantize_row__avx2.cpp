// The activation quantizer of kernels/dense_gemm.h for AVX2 (kernels/avx2/q8_row__avx2.h):
// bytes, scale and group sums identical to q8_quantize_row__ref's.
#include <algorithm>
#include <cstring>

#include "kernels/avx2/q8_row__avx2.h"
#include "kernels/dense_gemm_ukernel.h"
#include "kernels/q8_inverse_scale.h"

namespace sparq::kernels {

void q8_quantize_row__avx2(const float* x, size_t k, size_t group, size_t group_stride,
                           int8_t* q, int32_t* sums, float* scale) {
  const float amax = avx2::abs_max(x, k);
  const float inv = q8_inverse_scale(amax);
  *scale = amax / 127.0f;
  const __m256 vinv = _mm256_set1_ps(inv);
  const size_t groups = (k + group - 1) / group;
  for (size_t g = 0; g < groups; ++g) {
    const size_t valid = std::min(group, k - g * group);
    const float* xg = x + g * group;
    __m256i vsum = _mm256_setzero_si256();
    for (size_t i = 0; i < group_stride; i += 8) {
      const size_t n = valid > i ? std::min<size_t>(valid - i, 8) : 0;
      const __m256i qi = n ? avx2::quantize8(xg + i, n, vinv) : _mm256_setzero_si256();
      vsum = _mm256_add_epi32(vsum, qi);
      const uint64_t bytes = avx2::to_bytes(qi);
      std::memcpy(q + g * group_stride + i, &bytes, std::min<size_t>(group_stride - i, 8));
    }
    sums[g] = avx2::sum_lanes(vsum);
  }
}

}  // namespace sparq::kernels
