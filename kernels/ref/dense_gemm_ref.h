// The scalar reference for every dense matmul: it reads weights straight from their
// portable encoding (no packing) and spells out the arithmetic of kernels/dense_gemm.h,
// the definition every packed ISA kernel is tested against.
#pragma once

#include <cstddef>

#include "kernels/dense_gemm.h"

namespace sparq::kernels::ref {

// Y = X·Wᵀ + bias for any m (the GEMV cases m = 1..4 included). f32 sums in k order in
// f32; q8/q4 quantize each row of X with q8_quantize_row__scalar and sum each group in
// exact integers.
void dense_matmul(const DenseWeightsView& w, const float* x, size_t m, const float* bias,
                  float* y);

// The signed integer a quantized weight stands for within its group: q8 q, symmetric q4
// q − 8, asymmetric q4 q (its minimum is added separately).
int32_t dense_weight_code(const DenseWeightsView& w, size_t row, size_t col);

}  // namespace sparq::kernels::ref
