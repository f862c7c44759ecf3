// Row-wise softmax with max subtraction, scalar reference.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/ref/transformer_ops__ref.h"

namespace sparq::kernels {

void softmax__ref(size_t rows, size_t n, const float* x, size_t x_stride, float* y,
                  size_t y_stride) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * x_stride;
    float* yr = y + r * y_stride;
    float max = -std::numeric_limits<float>::infinity();
    for (size_t i = 0; i < n; ++i) max = std::max(max, xr[i]);
    if (max == -std::numeric_limits<float>::infinity()) {  // fully masked: zeros (see header)
      std::fill(yr, yr + n, 0.0f);
      continue;
    }
    // x - max in double: in f32 its rounding alone is ~|x - max| * 6e-8 relative in the result.
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      yr[i] = static_cast<float>(std::exp(double{xr[i]} - max));
      sum += yr[i];
    }
    const double inv = 1.0 / sum;
    for (size_t i = 0; i < n; ++i) yr[i] = static_cast<float>(yr[i] * inv);
  }
}

}  // namespace sparq::kernels
