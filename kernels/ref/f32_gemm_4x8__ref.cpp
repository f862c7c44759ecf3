#include <algorithm>

#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels {

void f32_gemm_4x8__ref(const F32GemmTile& t) {
  constexpr size_t MR = 4, NR = 8;
  float acc[MR][NR] = {};
  for (size_t c = 0; c < t.k; ++c) {
    const float* w = t.w + c * NR;
    for (size_t i = 0; i < t.mr; ++i) {
      const float xv = t.x[i * t.x_stride + c];
      for (size_t j = 0; j < NR; ++j) acc[i][j] += xv * w[j];
    }
  }
  for (size_t i = 0; i < t.mr; ++i) {
    for (size_t j = 0; j < t.nr; ++j) {
      t.y[i * t.y_stride + j] = acc[i][j] + (t.bias ? t.bias[j] : 0.0f);
    }
  }
}

}  // namespace sparq::kernels
