#include "runtime/model/kv_cache.h"

#include <fmt/core.h>

namespace sparq::runtime {

uint64_t KvCache::bytes_for(const LlamaConfig& c, size_t slots, size_t context) {
  return uint64_t{2} * c.num_layers * slots * context * c.num_kv_heads * c.resolved_head_dim() * sizeof(float);
}

Result<KvCache> KvCache::create(const LlamaConfig& c, size_t slots, size_t context, uint64_t max_bytes) {
  if (slots == 0 || context == 0) return Error("kv cache: needs at least one slot and one position");
  if (context > c.max_positions) {
    return Error(fmt::format("kv cache: a context of {} tokens is longer than the model's {}", context,
                             c.max_positions), ErrorKind::invalid_argument);
  }
  const uint64_t bytes = bytes_for(c, slots, context);
  if (max_bytes != 0 && bytes > max_bytes) {
    return Error(fmt::format("kv cache: {} sequences x {} tokens need {:.1f} MiB, over the {:.1f} MiB allowed",
                             slots, context, bytes / 1048576.0, max_bytes / 1048576.0),
                 ErrorKind::invalid_argument);
  }
  KvCache cache;
  cache.context_ = context;
  cache.plane_ = context * c.num_kv_heads * c.resolved_head_dim();
  cache.lengths_.assign(slots, 0);
  cache.data_.resize(bytes / sizeof(float));
  return cache;
}

}  // namespace sparq::runtime
