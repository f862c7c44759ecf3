// An elementwise function a matmul applies to its output while each tile is still in cache,
// y = f(x·Wᵀ + b): a transformer's FFN GELU costs no pass of its own over the (m × FFN)
// activations. Applied tile by tile, an elementwise function gives exactly the bits of one
// pass over the whole output.
#pragma once

#include <cstddef>

namespace sparq::kernels {

// E.g. TransformerOpsConfig::gelu_erf; null: none.
using OutputActivation = void (*)(size_t n, const float* x, float* y);

// act over `rows` rows of `cols` floats at y (row stride ld), in place.
inline void apply_output_activation(OutputActivation act, size_t rows, size_t cols, float* y, size_t ld) {
  if (!act) return;
  for (size_t r = 0; r < rows; ++r) act(cols, y + r * ld, y + r * ld);
}

}  // namespace sparq::kernels
