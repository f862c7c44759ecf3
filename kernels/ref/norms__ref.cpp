// Layernorm and rmsnorm, scalar reference.
#include <cmath>

#include "kernels/ref/transformer_ops__ref.h"

namespace sparq::kernels {

void layernorm__ref(size_t rows, size_t n, const float* x, size_t x_stride, const float* gamma,
                    const float* beta, float eps, float* y, size_t y_stride) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * x_stride;
    float* yr = y + r * y_stride;
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(n);
    double sq = 0;
    for (size_t i = 0; i < n; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
    const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(n) + eps);
    for (size_t i = 0; i < n; ++i)
      yr[i] = static_cast<float>((xr[i] - mean) * rstd * gamma[i] + beta[i]);
  }
}

void rmsnorm__ref(size_t rows, size_t n, const float* x, size_t x_stride, const float* gamma,
                  float eps, float* y, size_t y_stride) {
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * x_stride;
    float* yr = y + r * y_stride;
    double sq = 0;
    for (size_t i = 0; i < n; ++i) sq += static_cast<double>(xr[i]) * xr[i];
    const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(n) + eps);
    for (size_t i = 0; i < n; ++i) yr[i] = static_cast<float>(xr[i] * rstd * gamma[i]);
  }
}

}  // namespace sparq::kernels
