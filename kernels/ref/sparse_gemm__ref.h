// The scalar reference of the sparse matmul family, reading the portable .sparq csr/bsr
// payload directly (no packing): the definition the SIMD kernels are tested against, and
// the fallback where a config has no kernel.
//  - csr f32: y = Σ w·x in f32, entries in stored order, then + bias.
//  - csr/bsr q8: x quantized per row (quantize_row_q8__ref), Σ q_x·q_w exact in int32
//    (|Σ| ≤ K·127·128 fits while K ≤ 132104), y = fma(float(acc), x_scale·w_scale, bias).
#pragma once

#include <cstddef>

#include "kernels/pack_sparse.h"

namespace sparq::kernels {

void sparse_gemm__ref(const SparseView& w, const float* x, size_t m, const float* bias,
                      float* y);

}  // namespace sparq::kernels
