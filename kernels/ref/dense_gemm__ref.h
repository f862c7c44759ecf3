// The scalar reference for every dense matmul: it reads weights straight from their
// portable encoding (no packing) and spells out the arithmetic of kernels/dense_gemm.h,
// the definition every packed ISA kernel is tested against.
#pragma once

#include <cstddef>

#include "kernels/dense_gemm.h"

namespace sparq::kernels {

// Y = X·Wᵀ + bias for any m (the GEMV cases m = 1..4 included). f32, f16 and bf16: each
// weight widened exactly to f32, products summed in k order in f32; q8/q4 quantize each row of X with q8_quantize_row__ref and sum each group in
// exact integers.
void dense_gemm__ref(const DenseWeightsView& w, const float* x, size_t m, const float* bias,
                     float* y);

}  // namespace sparq::kernels
