// One linear layer of a model, y = x·Wᵀ (+ b), bound once at load to the kernels its
// stored encoding calls for: dense f32/f16/bf16/q8/q4 through dense_matmul (f16 and bf16
// stay 2 bytes per weight), csr/bsr through sparse_gemm, bitmap rows of q8/q4 through
// bitmap_matmul. Sparse encodings the kernels do not take are widened exactly at load (csr
// with f16/q4 values or bsr with f32 values to csr f32), never per call.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "formats/error.h"
#include "formats/sparq_reader.h"
#include "kernels/bitmap_gemm.h"
#include "kernels/dense_gemm.h"
#include "kernels/dense_gemm_config.h"
#include "kernels/sparse_gemm.h"
#include "kernels/transformer_ops.h"

namespace sparq::runtime {

// The kernel configs one model runs with, all for the same ISA level.
struct ModelKernels {
  kernels::Isa isa = kernels::Isa::ref;
  const kernels::DenseGemmConfig* dense = nullptr;
  kernels::SparseGemmConfig sparse;
  kernels::BitmapGemmConfig bitmap;
  const kernels::TransformerOpsConfig* ops = nullptr;
};

// The configs for `isa`, or an error naming what this CPU or build lacks.
Result<ModelKernels> model_kernels_for(kernels::Isa isa);

class LinearLayer {
 public:
  // Packs `weight` ([n, k], any linear encoding) and keeps `bias` ([n] f32 floats that must
  // outlive the layer; empty: no bias). Errors name the tensor.
  static Result<LinearLayer> bind(const formats::TensorView& weight, std::span<const float> bias,
                                    const ModelKernels& kernels);

  size_t n() const { return n_; }
  size_t k() const { return k_; }
  // y[m, n] = f(x[m, k])·Wᵀ + bias, row-major, on the kernels' thread pool; f (an
  // elementwise activation, null for none) is applied as the kernels take in x
  // (kernels/input_transform.h), so f(x) is never written out.
  void run(const float* x, size_t m, float* y, kernels::InputTransform f = nullptr) const;
  // "q8 -> dense q8 (avx512vnni)", "csr:q8 -> quads 1x4 (avx512vnni)",
  // "bitmap:q8:g32 -> bitmap q8 (avx512vnni)".
  const std::string& description() const { return description_; }
  // q8 or q4 values (dense or sparse): the layer already rounds its input to int8.
  bool integer_weights() const { return integer_weights_; }

  // A feed-forward block, y[m, down.n] = f(x·upᵀ + b_up)·downᵀ + b_down. Sparse q8 pairs run
  // fused (kernels::sparse_ffn: the m x up.n intermediate stays in cache); otherwise the two
  // layers run one after the other through `mid` (m x up.n floats), with f applied as `down`
  // takes it in.
  static void run_ffn(const LinearLayer& up, const LinearLayer& down, kernels::InputTransform f,
                      const float* x, size_t m, float* mid, float* y);

 private:
  size_t n_ = 0, k_ = 0;
  const float* bias_ = nullptr;
  bool integer_weights_ = false;
  // Exactly one of the three is set.
  std::shared_ptr<const kernels::PackedDenseWeights> dense_;
  std::shared_ptr<const kernels::PackedSparseWeight> sparse_;
  std::shared_ptr<const kernels::PackedBitmapWeights> bitmap_;
  std::string description_;
};

}  // namespace sparq::runtime
