// How attention work is cut into independent tasks, shared by every ISA's kernel and the
// threading in transformer_ops.cpp. A task is one (batch element, KV head, block of queries):
// it computes every query head that reads that KV head, so the K/V rows it streams are reused
// by the whole group while they are in cache, and no two tasks write the same output row.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/transformer_ops.h"

namespace sparq::kernels {

inline constexpr size_t kAttentionQueryBlock = 16;
// Kernels keep a few query rows' accumulators of head_dim floats on the stack.
inline constexpr size_t kAttentionMaxHeadDim = 1024;

struct AttentionTaskRange {
  size_t batch, kv_head, q_begin, q_end;
};

inline size_t attention_query_blocks(const AttentionParams& p) {
  return (p.q_len + kAttentionQueryBlock - 1) / kAttentionQueryBlock;
}

inline size_t attention_task_count(const AttentionParams& p) {
  return p.batch * p.n_kv_heads * attention_query_blocks(p);
}

inline AttentionTaskRange attention_task(const AttentionParams& p, size_t task) {
  const size_t blocks = attention_query_blocks(p);
  const size_t qb = task % blocks;
  const size_t bh = task / blocks;
  const size_t q_begin = qb * kAttentionQueryBlock;
  return {bh / p.n_kv_heads, bh % p.n_kv_heads, q_begin,
          std::min(p.q_len, q_begin + kAttentionQueryBlock)};
}

// Where rows start, in floats (K/V: values of the f32 encoding; other encodings are packed,
// vector index · head_dim). p's strides are set (attention() fills in the defaults).
inline size_t attention_q_offset(const AttentionParams& p, size_t b, size_t i, size_t h) {
  return (b * p.q_len + i) * p.q_stride + h * p.head_dim;
}
inline size_t attention_kv_offset(const AttentionParams& p, size_t b, size_t j, size_t kv_head) {
  return (b * p.kv_capacity + j) * p.kv_stride + kv_head * p.head_dim;
}

// Both masks keep a prefix of the keys, so a query sees keys [0, count) and nothing else.
inline size_t attention_visible_keys(const AttentionParams& p, const int32_t* kv_valid,
                                     const int32_t* q_pos, size_t b, size_t i) {
  int64_t limit = kv_valid ? kv_valid[b] : static_cast<int64_t>(p.kv_len);
  if (p.causal) {
    const int64_t pos = q_pos ? q_pos[b] + static_cast<int64_t>(i)
                              : static_cast<int64_t>(p.kv_len - p.q_len + i);
    limit = std::min(limit, pos + 1);
  }
  return static_cast<size_t>(std::clamp<int64_t>(limit, 0, static_cast<int64_t>(p.kv_len)));
}

}  // namespace sparq::kernels
