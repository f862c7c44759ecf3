// The keys and values a decoder keeps for the tokens it has seen, per sequence slot: a
// server schedules sequences onto slots (continuous batching), a batch job gives each
// prompt one. Sized once from the context length, so memory is known up front (bytes()) and
// decoding never allocates.
//
// Layout, f32: for each layer and slot, K then V as [context, kv_heads, head_dim] — the
// layout kernels::attention reads with kv_capacity = context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "formats/error.h"
#include "runtime/model/model_schema.h"

namespace sparq::runtime {

class KvCache {
 public:
  // Errors when the cache would exceed `max_bytes` (0: no limit), naming the sizes.
  static Result<KvCache> create(const LlamaConfig& config, size_t slots, size_t context, uint64_t max_bytes = 0);
  static uint64_t bytes_for(const LlamaConfig& config, size_t slots, size_t context);

  size_t slots() const { return lengths_.size(); }
  size_t context() const { return context_; }
  uint64_t bytes() const { return data_.size() * sizeof(float); }

  // Tokens cached for `slot`; the next token sits at this position.
  size_t length(size_t slot) const { return lengths_[slot]; }
  // Forgets a slot's tokens: the slot takes a new sequence.
  void clear(size_t slot) { lengths_[slot] = 0; }
  void advance(size_t slot, size_t n) { lengths_[slot] += n; }

  float* keys(size_t layer, size_t slot) { return data_.data() + offset(layer, slot); }
  float* values(size_t layer, size_t slot) { return keys(layer, slot) + plane_; }

 private:
  size_t offset(size_t layer, size_t slot) const { return (layer * lengths_.size() + slot) * 2 * plane_; }

  size_t context_ = 0, plane_ = 0;  // plane: context · kv_heads · head_dim floats
  std::vector<size_t> lengths_;
  std::vector<float> data_;
};

}  // namespace sparq::runtime
