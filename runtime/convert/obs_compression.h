// Compression with second-order error compensation: a linear layer's weights are pruned
// and/or rounded one input column at a time, and each column's error is pushed onto the
// columns not yet done through the inverse Hessian of the layer's squared output error,
// H = XᵀX over calibration inputs (Optimal Brain Surgeon updates). Two methods share it:
//   SparseGPT (Frantar & Alistarh, 2023): which weights to prune is chosen as the columns are
//     reached, by w² / [H⁻¹]_cc², in blocks of 128 columns (unstructured: the lowest of the
//     block over all rows; N:M: the lowest M-N of each row's group of M);
//   GPTQ (Frantar et al., 2022): rounds onto a symmetric q8/q4 grid with one scale per row
//     per group, taken when the group's first column is reached from the weights as
//     updated so far.
// Both together prune and quantize jointly. The result is f32 values that sparq's q8/q4
// encoders store exactly: each row's group keeps its largest-magnitude weight (at the
// group's start) on ±qmax, so the encoder's max/qmax scale is GPTQ's.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "formats/error.h"
#include "runtime/convert/magnitude_pruning.h"

namespace sparq::runtime {

// A symmetric grid: values scale·k, k in [-qmax, qmax], one scale per row per `group`
// columns (0: per row). q8: qmax 127; q4: 7 (sparq's q4 encoder takes max/7).
struct QuantGrid {
  int qmax = 127;
  uint64_t group = 0;
};

struct ObsOptions {
  // SparseGPT: prune to `sparsity` in this pattern (unstructured or N:M). Without it the
  // zeros already in the tensor (a magnitude or Wanda mask) stay zero and nothing else is
  // pruned.
  std::optional<PrunePattern> prune;
  double sparsity = 0;
  std::optional<QuantGrid> grid;  // GPTQ
  double damp = 0.01;             // added to H's diagonal, times its mean (the papers' 1 %)
  uint64_t block = 128;           // columns per lazy update
};

// Compresses `t` (rows x cols) in place given `gram` = XᵀX (cols x cols, row-major) of its
// inputs. Columns that saw no input (a zero diagonal) are zeroed, as the papers do. Errors:
// shapes, a block pattern, a pattern that does not divide the columns, a Hessian that is not
// positive definite even after damping.
Status compress_with_hessian(const PruneTensor& t, std::span<const double> gram, const ObsOptions& options);

}  // namespace sparq::runtime
