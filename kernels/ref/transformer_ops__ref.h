// Scalar reference kernels of the transformer operations (the entries of the ref
// TransformerOps table). Straightforward loops with double accumulation: the standard the
// SIMD kernels are tested against, and the kernels of CPUs without a SIMD level.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/transformer_ops.h"

namespace sparq::kernels {

void layernorm__ref(size_t rows, size_t n, const float* x, size_t x_stride, const float* gamma,
                    const float* beta, float eps, float* y, size_t y_stride);
void rmsnorm__ref(size_t rows, size_t n, const float* x, size_t x_stride, const float* gamma,
                  float eps, float* y, size_t y_stride);
void softmax__ref(size_t rows, size_t n, const float* x, size_t x_stride, float* y,
                  size_t y_stride);
void gelu_erf__ref(size_t n, const float* x, float* y);
void gelu_tanh__ref(size_t n, const float* x, float* y);
void silu__ref(size_t n, const float* x, float* y);
void swiglu__ref(size_t rows, size_t n, const float* gate, size_t gate_stride, const float* up,
                 size_t up_stride, float* y, size_t y_stride);
void exp__ref(size_t n, const float* x, float* y);
void attention__ref(const AttentionParams& p, const float* q, const KvRows& k, const KvRows& v,
                    const int32_t* kv_valid, const int32_t* q_pos, float* out, size_t begin,
                    size_t end);

}  // namespace sparq::kernels
