// Kernel views over the weights of a .sparq file: where a tensor's descriptor (formats/) is
// read and checked so that kernels/ sees only pointers, shapes and its own enums. Errors
// name the tensor.
#pragma once

#include <cstdint>
#include <span>

#include "formats/error.h"
#include "formats/tensor_desc.h"
#include "kernels/bitmap_gemm.h"
#include "kernels/dense_gemm.h"
#include "kernels/pack_sparse.h"
#include "kernels/sparse_gemm.h"

namespace sparq::runtime {

// Checks that `desc` is a dense f32/f16/bf16/q8/q4 matrix and lays a view over its payload, which
// must outlive the view.
Result<kernels::DenseWeightsView> view_dense_weights(const formats::TensorDesc& desc,
                                                     std::span<const uint8_t> payload);

// Checks that `desc` is a csr (f32/q8 values) or bsr (q8 values) matrix, validates the
// payload's structure (formats::validate_payload) and lays a view over it.
Result<kernels::SparseView> view_sparse_weights(const formats::TensorDesc& desc,
                                                std::span<const uint8_t> payload);

// Checks that `desc` is a bitmap (q8/q4 values) matrix, validates the payload's structure
// and lays a view over it.
Result<kernels::BitmapWeightsView> view_bitmap_weights(const formats::TensorDesc& desc,
                                                       std::span<const uint8_t> payload);

// view_sparse_weights, then kernels::pack_sparse_weight for `config`.
Result<kernels::PackedSparseWeight> pack_sparse_weight(const formats::TensorDesc& desc,
                                                       std::span<const uint8_t> payload,
                                                       const kernels::SparseGemmConfig& config);

}  // namespace sparq::runtime
