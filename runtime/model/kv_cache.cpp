#include "runtime/model/kv_cache.h"

#include <fmt/core.h>

namespace sparq::runtime {

Result<kernels::KvEncoding> kv_encoding_from_name(std::string_view name) {
  for (kernels::KvEncoding e : {kernels::KvEncoding::f32, kernels::KvEncoding::f16, kernels::KvEncoding::q8}) {
    if (name == kernels::kv_encoding_name(e)) return e;
  }
  return Error(fmt::format("KV-cache type '{}': expected f32, f16 or q8", name), ErrorKind::invalid_argument);
}

uint64_t KvCache::bytes_for(const LlamaConfig& c, size_t slots, size_t context, kernels::KvEncoding encoding) {
  const uint64_t vectors = uint64_t{2} * c.num_layers * slots * context * c.num_kv_heads;
  const uint64_t scale_bytes = encoding == kernels::KvEncoding::q8 ? sizeof(float) : 0;
  return vectors * (c.resolved_head_dim() * kernels::kv_value_bytes(encoding) + scale_bytes);
}

Result<KvCache> KvCache::create(const LlamaConfig& c, size_t slots, size_t context, kernels::KvEncoding encoding,
                                uint64_t max_bytes) {
  if (slots == 0 || context == 0) return Error("kv cache: needs at least one slot and one position");
  if (context > c.max_positions) {
    return Error(fmt::format("kv cache: a context of {} tokens is longer than the model's {}", context,
                             c.max_positions), ErrorKind::invalid_argument);
  }
  const uint64_t bytes = bytes_for(c, slots, context, encoding);
  if (max_bytes != 0 && bytes > max_bytes) {
    return Error(fmt::format("kv cache: {} sequences x {} tokens need {:.1f} MiB ({}), over the {:.1f} MiB allowed",
                             slots, context, bytes / 1048576.0, kernels::kv_encoding_name(encoding),
                             max_bytes / 1048576.0),
                 ErrorKind::invalid_argument);
  }
  KvCache cache;
  cache.encoding_ = encoding;
  cache.context_ = context;
  cache.kv_heads_ = c.num_kv_heads;
  cache.head_dim_ = c.resolved_head_dim();
  cache.plane_vectors_ = context * c.num_kv_heads;
  cache.lengths_.assign(slots, 0);
  const size_t planes = 2 * c.num_layers * slots;
  cache.values_.resize(planes * cache.plane_vectors_ * cache.head_dim_ * kernels::kv_value_bytes(encoding));
  if (encoding == kernels::KvEncoding::q8) cache.scales_.resize(planes * cache.plane_vectors_);
  return cache;
}

size_t KvCache::value_offset(size_t plane) const {
  return plane * plane_vectors_ * head_dim_ * kernels::kv_value_bytes(encoding_);
}

kernels::KvRows KvCache::rows(size_t layer, size_t slot, size_t which) const {
  const size_t p = plane(layer, slot, which);
  return {values_.data() + value_offset(p), scales_.empty() ? nullptr : scales_.data() + scale_offset(p)};
}

void KvCache::store(size_t layer, size_t slot, size_t pos, size_t n, const float* k, const float* v, size_t k_stride,
                    size_t v_stride) {
  for (size_t which : {0, 1}) {
    const size_t p = plane(layer, slot, which);
    std::byte* values = values_.data() + value_offset(p);
    float* scales = scales_.empty() ? nullptr : scales_.data() + scale_offset(p);
    const float* src = which == 0 ? k : v;
    const size_t stride = which == 0 ? k_stride : v_stride;
    for (size_t t = 0; t < n; ++t) {
      kernels::encode_kv(encoding_, kv_heads_, head_dim_, src + t * stride, values, scales, (pos + t) * kv_heads_);
    }
  }
}

}  // namespace sparq::runtime
