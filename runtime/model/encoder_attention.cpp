#include "runtime/model/encoder_attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/attention_tasks.h"
#include "kernels/threading.h"

namespace sparq::runtime {
namespace {

// Below this much work per thread (head_dim · keys · queries summed over tasks) a fork
// costs more than it saves, as in the kernels' own attention.
constexpr uint64_t kMinCostPerThread = 16384;

kernels::AttentionParams sequence_params(size_t heads, size_t head_dim, size_t length) {
  kernels::AttentionParams p;
  p.batch = 1;
  p.q_len = p.kv_len = p.kv_capacity = length;
  p.n_heads = p.n_kv_heads = heads;
  p.head_dim = head_dim;
  p.scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  p.q_stride = p.kv_stride = 3 * heads * head_dim;
  return p;
}

uint64_t task_cost(const kernels::AttentionParams& p) {
  return uint64_t(p.head_dim) * p.kv_len * std::min(p.q_len, kernels::kAttentionQueryBlock);
}

}  // namespace

void packed_self_attention(const kernels::TransformerOpsConfig& ops, bool int8_products, size_t heads,
                           size_t head_dim, std::span<const int32_t> offsets, const float* qkv, float* out) {
  const size_t sequences = offsets.size() - 1, row = heads * head_dim;
  const auto attention = int8_products && ops.attention_int8 ? ops.attention_int8 : ops.attention;
  uint64_t total = 0;
  for (size_t b = 0; b < sequences; ++b) {
    const auto p = sequence_params(heads, head_dim, size_t(offsets[b + 1] - offsets[b]));
    total += kernels::attention_task_count(p) * task_cost(p);
  }
  kernels::parallel_run(total, kMinCostPerThread, [&](int thread, int threads) {
    // Thread t owns the tasks whose cumulative cost starts in [t·total/n, (t+1)·total/n).
    const auto first_task_at = [&](uint64_t start, uint64_t cost, int t) -> uint64_t {
      const uint64_t threshold = uint64_t(t) * total;  // compared with (start + i·cost) · threads
      const uint64_t at = start * uint64_t(threads);
      if (at >= threshold) return 0;
      const uint64_t step = cost * uint64_t(threads);
      return (threshold - at + step - 1) / step;
    };
    uint64_t start = 0;
    for (size_t b = 0; b < sequences; ++b) {
      const auto p = sequence_params(heads, head_dim, size_t(offsets[b + 1] - offsets[b]));
      const uint64_t tasks = kernels::attention_task_count(p), cost = task_cost(p);
      const uint64_t begin = std::min(tasks, first_task_at(start, cost, thread));
      const uint64_t end = std::min(tasks, first_task_at(start, cost, thread + 1));
      if (begin < end) {
        const float* q = qkv + size_t(offsets[b]) * 3 * row;
        attention(p, q, q + row, q + 2 * row, nullptr, nullptr, out + size_t(offsets[b]) * row, begin, end);
      }
      start += tasks * cost;
    }
  });
}

}  // namespace sparq::runtime
