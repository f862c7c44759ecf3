// One-shot magnitude pruning of f32 [out, in] weight matrices: zero the entries (or blocks)
// of smallest magnitude until a target sparsity is reached, exactly.
//
// Patterns:
//   unstructured  each entry is a unit, scored by |w|;
//   RxC blocks    the block shapes the sparse kernels run (kSupportedBlocks), scored by
//                 the block's L2 norm divided by sqrt(R*C) (the RMS of its entries, so
//                 scores of different block shapes and tensors are comparable);
//   N:M           in every M consecutive inputs of a row keep the N largest |w| (sparsity
//                 is 1 - N/M by construction).
// A tensor with input norms is scored by |w_ij|·‖X_j‖ in place of |w_ij| (Wanda's score,
// runtime/convert/wanda_pruning.h), in every pattern.
// Ranking is by (score, tensor index, unit index) ascending: ties go to the earlier unit
// (row-major), so a result never depends on sort stability.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "formats/error.h"

namespace sparq::runtime {

struct PrunePattern {
  enum class Kind { unstructured, block, n_of_m };
  Kind kind = Kind::unstructured;
  uint32_t rows = 1, cols = 1;  // block: its shape
  uint32_t n = 0, m = 0;        // n_of_m: keep n of every m

  std::string to_string() const;  // "unstructured", "4x4", "2:4"
  // The sparsity the pattern itself fixes (N:M), or a negative value when the target decides.
  double fixed_sparsity() const { return kind == Kind::n_of_m ? 1.0 - double(n) / double(m) : -1.0; }
  bool operator==(const PrunePattern&) const = default;
};

// The block shapes the BSR kernels accelerate (kernels/pack_sparse.h), larger first.
inline constexpr std::pair<uint32_t, uint32_t> kSupportedBlocks[] = {{4, 4}, {16, 1}, {8, 1}, {1, 8}, {4, 1}, {1, 4}};

// "unstructured", "RxC" (a supported block shape) or "N:M" (0 < N < M <= 32).
Result<PrunePattern> parse_prune_pattern(std::string_view text);

// A matrix to prune in place; `name` is used in messages.
struct PruneTensor {
  std::string name;
  std::span<float> values;  // row-major rows x cols
  uint64_t rows = 0, cols = 0;
  // Per input column j, ‖X_j‖₂ over calibration inputs: scales column j's scores. Empty:
  // plain magnitude.
  std::span<const float> input_norms;
  // XᵀX over calibration inputs (cols x cols, row-major): SparseGPT's and GPTQ's Hessian
  // (runtime/convert/obs_compression.h); magnitude and Wanda pruning ignore it.
  std::span<const double> input_gram;
};

struct PruneResult {
  uint64_t units = 0, pruned_units = 0;  // over all tensors
  uint64_t zeros = 0, elements = 0;      // after pruning
  double sparsity() const { return elements ? double(zeros) / double(elements) : 0.0; }
};

// Prunes the `round(sparsity * units)` lowest-ranked units of all `tensors` together (one
// ranking: a global threshold when several tensors are given, per-tensor pruning when one
// is). N:M patterns prune each group on its own and ignore `sparsity`. Errors: a sparsity
// outside [0, 1], or a matrix whose shape is not a multiple of the block / of M.
Result<PruneResult> prune_by_magnitude(std::span<const PruneTensor> tensors, const PrunePattern& pattern,
                                       double sparsity);

}  // namespace sparq::runtime
