// The keys and values a decoder keeps for the tokens it has seen, per sequence slot: a
// server schedules sequences onto slots (continuous batching), a batch job gives each
// prompt one. Sized once from the context length, so memory is known up front (bytes()) and
// decoding never allocates.
//
// Stored as f32 (the default), f16 or q8 (kernels::KvEncoding: int8 with one scale per
// position and KV head): f16 halves the memory, q8 quarters it plus 4 bytes per head_dim
// values, at the accuracy measured in tests/runtime/kv_cache_encoding_test.cpp.
//
// Layout: for each layer and slot, K then V as [context, kv_heads, head_dim] values, and for
// q8 K then V scales as [context, kv_heads] — the rows kernels::attention reads with
// kv_capacity = context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "formats/error.h"
#include "kernels/transformer_ops.h"
#include "runtime/model/model_schema.h"

namespace sparq::runtime {

// "f32", "f16" or "q8" (the names of the --kv-cache option).
Result<kernels::KvEncoding> kv_encoding_from_name(std::string_view name);

class KvCache {
 public:
  // Errors when the cache would exceed `max_bytes` (0: no limit), naming the sizes.
  static Result<KvCache> create(const LlamaConfig& config, size_t slots, size_t context,
                                kernels::KvEncoding encoding = kernels::KvEncoding::f32, uint64_t max_bytes = 0);
  static uint64_t bytes_for(const LlamaConfig& config, size_t slots, size_t context, kernels::KvEncoding encoding);

  size_t slots() const { return lengths_.size(); }
  size_t context() const { return context_; }
  kernels::KvEncoding encoding() const { return encoding_; }
  uint64_t bytes() const { return values_.size() + scales_.size() * sizeof(float); }

  // Tokens cached for `slot`; the next token sits at this position.
  size_t length(size_t slot) const { return lengths_[slot]; }
  // Forgets a slot's tokens: the slot takes a new sequence.
  void clear(size_t slot) { lengths_[slot] = 0; }
  void advance(size_t slot, size_t n) { lengths_[slot] += n; }

  // Encodes the keys and values of positions [pos, pos + n) of (layer, slot): row t of `k`
  // (of `v`), k_stride (v_stride) floats apart, holds position pos + t's kv_heads · head_dim
  // values.
  void store(size_t layer, size_t slot, size_t pos, size_t n, const float* k, const float* v, size_t k_stride,
             size_t v_stride);
  kernels::KvRows keys(size_t layer, size_t slot) const { return rows(layer, slot, 0); }
  kernels::KvRows values(size_t layer, size_t slot) const { return rows(layer, slot, 1); }

 private:
  // Plane `which` (0 keys, 1 values) of (layer, slot): its first value byte and first scale.
  size_t plane(size_t layer, size_t slot, size_t which) const { return (layer * slots() + slot) * 2 + which; }
  size_t value_offset(size_t plane) const;
  size_t scale_offset(size_t plane) const { return plane * plane_vectors_; }
  kernels::KvRows rows(size_t layer, size_t slot, size_t which) const;

  kernels::KvEncoding encoding_ = kernels::KvEncoding::f32;
  size_t context_ = 0, kv_heads_ = 0, head_dim_ = 0;
  size_t plane_vectors_ = 0;  // context · kv_heads
  std::vector<size_t> lengths_;
  std::vector<std::byte> values_;
  std::vector<float> scales_;  // q8 only
};

}  // namespace sparq::runtime
