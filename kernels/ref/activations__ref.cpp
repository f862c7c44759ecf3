// GELU (erf and tanh forms), SiLU, SwiGLU and exp, scalar reference with the std:: functions.
#include <cmath>

#include "kernels/ref/transformer_ops__ref.h"

namespace sparq::kernels {

void gelu_erf__ref(size_t n, const float* x, float* y) {
  // 0.5 erfc(-x/sqrt2) is the normal CDF without the cancellation 1 + erf has for x << 0.
  for (size_t i = 0; i < n; ++i)
    y[i] = static_cast<float>(x[i] * 0.5 * std::erfc(-x[i] * M_SQRT1_2));
}

void gelu_tanh__ref(size_t n, const float* x, float* y) {
  // 0.5 x (1 + tanh u) = x / (1 + exp(-2u)): the same function without 1 + tanh u cancelling
  // (to 0 even in double once u < -19) in the negative tail.
  const double c = 2.0 * std::sqrt(2.0 / M_PI);
  for (size_t i = 0; i < n; ++i) {
    const double xi = x[i];
    y[i] = static_cast<float>(xi / (1.0 + std::exp(-c * (xi + 0.044715 * xi * xi * xi))));
  }
}

void silu__ref(size_t n, const float* x, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = static_cast<float>(x[i] / (1.0 + std::exp(-double{x[i]})));
}

void swiglu__ref(size_t rows, size_t n, const float* gate, size_t gate_stride, const float* up,
                 size_t up_stride, float* y, size_t y_stride) {
  for (size_t r = 0; r < rows; ++r) {
    const float* g = gate + r * gate_stride;
    const float* u = up + r * up_stride;
    float* yr = y + r * y_stride;
    for (size_t i = 0; i < n; ++i)
      yr[i] = static_cast<float>(g[i] / (1.0 + std::exp(-double{g[i]})) * u[i]);
  }
}

void exp__ref(size_t n, const float* x, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

}  // namespace sparq::kernels
