#include <algorithm>
#include <cmath>

#include "kernels/dense_gemm_ukernel.h"
#include "kernels/q8_inverse_scale.h"

namespace sparq::kernels {

void q8_quantize_row__ref(const float* x, size_t k, size_t group, size_t group_stride,
                          int8_t* q, int32_t* sums, float* scale) {
  float amax = 0.0f;
  for (size_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(x[i]));
  // Multiplying by the reciprocal (not dividing) is the rule every ISA reproduces exactly.
  const float inv = q8_inverse_scale(amax);
  *scale = amax / 127.0f;
  const size_t groups = (k + group - 1) / group;
  for (size_t g = 0; g < groups; ++g) {
    int32_t sum = 0;
    for (size_t i = 0; i < group_stride; ++i) {
      const size_t col = g * group + i;
      int32_t v = 0;
      if (i < group && col < k) {
        v = int32_t(std::clamp(std::nearbyint(x[col] * inv), -127.0f, 127.0f));
      }
      sum += v;
      q[g * group_stride + i] = int8_t(v);
    }
    sums[g] = sum;
  }
}

}  // namespace sparq::kernels
