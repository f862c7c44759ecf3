// Wanda (Sun et al., "A Simple and Effective Pruning Approach for Large Language Models",
// 2023): one-shot pruning by |W_ij|·‖X_j‖₂, where ‖X_j‖₂ is the norm of input column j over
// calibration tokens (PruneTensor::input_norms). Scores are compared within each output row
// for unstructured sparsity (the paper's choice: every row keeps the same share of its
// weights), within each group of M for N:M, and over the tensor for block shapes (a block
// spans rows). Ties go to the earlier entry, as in magnitude pruning.
#pragma once

#include <span>

#include "formats/error.h"
#include "runtime/convert/magnitude_pruning.h"

namespace sparq::runtime {

// Prunes each of `tensors` on its own; every tensor needs input norms. Errors as
// prune_by_magnitude, and a tensor without norms.
Result<PruneResult> prune_by_wanda(std::span<const PruneTensor> tensors, const PrunePattern& pattern,
                                   double sparsity);

}  // namespace sparq::runtime
