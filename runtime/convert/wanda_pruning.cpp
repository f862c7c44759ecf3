#include "runtime/convert/wanda_pruning.h"

#include <fmt/core.h>

namespace sparq::runtime {

Result<PruneResult> prune_by_wanda(std::span<const PruneTensor> tensors, const PrunePattern& pattern,
                                   double sparsity) {
  PruneResult total;
  auto add = [&total](const PruneResult& r) {
    total.units += r.units;
    total.pruned_units += r.pruned_units;
    total.zeros += r.zeros;
    total.elements += r.elements;
  };
  for (const PruneTensor& t : tensors) {
    if (t.input_norms.empty()) {
      return Error(fmt::format("tensor '{}': Wanda needs the input norms of a calibration run, and none were seen",
                               t.name));
    }
    if (pattern.kind != PrunePattern::Kind::unstructured || t.values.size() != t.rows * t.cols) {
      auto r = prune_by_magnitude(std::span(&t, 1), pattern, sparsity);
      if (!r) return r.error();
      add(*r);
      continue;
    }
    // Each output row is its own ranking: prune it as a 1-row tensor.
    for (uint64_t r = 0; r < t.rows; ++r) {
      PruneTensor row = t;
      row.values = t.values.subspan(r * t.cols, t.cols);
      row.rows = 1;
      auto pruned = prune_by_magnitude(std::span(&row, 1), pattern, sparsity);
      if (!pruned) return pruned.error().within(fmt::format("tensor '{}': row {}", t.name, r));
      add(*pruned);
    }
  }
  return total;
}

}  // namespace sparq::runtime
