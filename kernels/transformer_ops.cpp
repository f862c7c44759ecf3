// The transformer operations' entry points: validation, parameter defaults and static
// threading around one ISA's kernels (transformer_ops_config.cpp picks them).
#include "kernels/transformer_ops.h"

#include <cmath>
#include <string>

#include "kernels/attention_tasks.h"
#include "kernels/threading.h"

namespace sparq::kernels {

namespace {

// Below this many elements per thread, forking costs more than it saves.
constexpr size_t kMinElementsPerThread = 16384;
// Element-wise splits fall on whole cache lines so threads never share one for writing.
constexpr size_t kElementUnit = 16;

// Runs fn(begin, end) over [0, rows) split statically; each row costs `row_cost` elements.
template <class Fn>
void parallel_rows(size_t rows, size_t row_cost, Fn&& fn) {
  parallel_run(rows * row_cost, kMinElementsPerThread, [&](int thread, int threads) {
    const Range r = static_partition(rows, 1, thread, threads);
    if (r.size()) fn(r.begin, r.end);
  });
}

template <class Fn>
void parallel_elements(size_t n, Fn&& fn) {
  parallel_run(n, kMinElementsPerThread, [&](int thread, int threads) {
    const Range r = static_partition(n, kElementUnit, thread, threads);
    if (r.size()) fn(r.begin, r.end);
  });
}

}  // namespace

void layernorm(const TransformerOpsConfig& ops, size_t rows, size_t n, const float* x,
               size_t x_stride, const float* gamma, const float* beta, float eps, float* y,
               size_t y_stride) {
  parallel_rows(rows, n, [&](size_t b, size_t e) {
    ops.layernorm(e - b, n, x + b * x_stride, x_stride, gamma, beta, eps, y + b * y_stride,
                  y_stride);
  });
}

void rmsnorm(const TransformerOpsConfig& ops, size_t rows, size_t n, const float* x,
             size_t x_stride, const float* gamma, float eps, float* y, size_t y_stride) {
  parallel_rows(rows, n, [&](size_t b, size_t e) {
    ops.rmsnorm(e - b, n, x + b * x_stride, x_stride, gamma, eps, y + b * y_stride, y_stride);
  });
}

void softmax(const TransformerOpsConfig& ops, size_t rows, size_t n, const float* x,
             size_t x_stride, float* y, size_t y_stride) {
  parallel_rows(rows, n, [&](size_t b, size_t e) {
    ops.softmax(e - b, n, x + b * x_stride, x_stride, y + b * y_stride, y_stride);
  });
}

void gelu_erf(const TransformerOpsConfig& ops, size_t n, const float* x, float* y) {
  parallel_elements(n, [&](size_t b, size_t e) { ops.gelu_erf(e - b, x + b, y + b); });
}

void gelu_tanh(const TransformerOpsConfig& ops, size_t n, const float* x, float* y) {
  parallel_elements(n, [&](size_t b, size_t e) { ops.gelu_tanh(e - b, x + b, y + b); });
}

void silu(const TransformerOpsConfig& ops, size_t n, const float* x, float* y) {
  parallel_elements(n, [&](size_t b, size_t e) { ops.silu(e - b, x + b, y + b); });
}

void swiglu(const TransformerOpsConfig& ops, size_t rows, size_t n, const float* gate,
            size_t gate_stride, const float* up, size_t up_stride, float* y, size_t y_stride) {
  parallel_rows(rows, n, [&](size_t b, size_t e) {
    ops.swiglu(e - b, n, gate + b * gate_stride, gate_stride, up + b * up_stride, up_stride,
               y + b * y_stride, y_stride);
  });
}

Status attention(const TransformerOpsConfig& ops, const AttentionParams& params, const float* q,
                 const KvRows& k, const KvRows& v, std::span<const int32_t> kv_valid,
                 std::span<const int32_t> q_pos, float* out) {
  AttentionParams p = params;
  if (p.kv_capacity == 0) p.kv_capacity = p.kv_len;
  if (p.scale == 0.0f) p.scale = 1.0f / std::sqrt(static_cast<float>(p.head_dim));
  const auto field = [](const char* name, size_t value) {
    return std::string(name) + " " + std::to_string(value);
  };
  if (p.head_dim == 0 || p.head_dim > kAttentionMaxHeadDim)
    return Error("attention: " + field("head_dim", p.head_dim) + " outside 1.." +
                 std::to_string(kAttentionMaxHeadDim));
  if (p.n_kv_heads == 0 || p.n_heads % p.n_kv_heads != 0)
    return Error("attention: " + field("n_kv_heads", p.n_kv_heads) + " does not divide " +
                 field("n_heads", p.n_heads));
  if (p.kv_capacity < p.kv_len)
    return Error("attention: " + field("kv_capacity", p.kv_capacity) + " < " +
                 field("kv_len", p.kv_len));
  if (!kv_valid.empty() && kv_valid.size() != p.batch)
    return Error("attention: " + field("kv_valid lengths", kv_valid.size()) + " for " +
                 field("batch", p.batch));
  if (!q_pos.empty() && q_pos.size() != p.batch)
    return Error("attention: " + field("query positions", q_pos.size()) + " for " +
                 field("batch", p.batch));
  if (p.kv_encoding == KvEncoding::q8 && (k.scales == nullptr || v.scales == nullptr))
    return Error("attention: q8 keys and values need their scales");
  const size_t q_width = p.n_heads * p.head_dim, kv_width = p.n_kv_heads * p.head_dim;
  if (p.q_stride == 0) p.q_stride = q_width;
  if (p.kv_stride == 0) p.kv_stride = kv_width;
  if (p.q_stride < q_width)
    return Error("attention: " + field("q_stride", p.q_stride) + " < " + field("n_heads · head_dim", q_width));
  if (p.kv_stride < kv_width)
    return Error("attention: " + field("kv_stride", p.kv_stride) + " < " +
                 field("n_kv_heads · head_dim", kv_width));
  if (p.kv_stride != kv_width && p.kv_encoding != KvEncoding::f32)
    return Error(std::string("attention: a K/V stride needs f32 K/V, not ") + kv_encoding_name(p.kv_encoding));
  if (p.causal && q_pos.empty() && p.q_len > p.kv_len)
    return Error("attention: causal with " + field("q_len", p.q_len) + " > " +
                 field("kv_len", p.kv_len) + " needs explicit query positions");
  const size_t tasks = attention_task_count(p);
  const size_t task_cost = p.head_dim * p.kv_len * (p.n_heads / p.n_kv_heads) *
                           std::min(p.q_len, kAttentionQueryBlock);
  const int32_t* valid = kv_valid.empty() ? nullptr : kv_valid.data();
  const int32_t* pos = q_pos.empty() ? nullptr : q_pos.data();
  parallel_run(tasks * task_cost, kMinElementsPerThread, [&](int thread, int threads) {
    const Range r = static_partition(tasks, 1, thread, threads);
    if (r.size()) ops.attention(p, q, k, v, valid, pos, out, r.begin, r.end);
  });
  return {};
}

void layernorm(size_t rows, size_t n, const float* x, size_t x_stride, const float* gamma,
               const float* beta, float eps, float* y, size_t y_stride) {
  layernorm(transformer_ops_config(), rows, n, x, x_stride, gamma, beta, eps, y, y_stride);
}

void rmsnorm(size_t rows, size_t n, const float* x, size_t x_stride, const float* gamma, float eps,
             float* y, size_t y_stride) {
  rmsnorm(transformer_ops_config(), rows, n, x, x_stride, gamma, eps, y, y_stride);
}

void softmax(size_t rows, size_t n, const float* x, size_t x_stride, float* y, size_t y_stride) {
  softmax(transformer_ops_config(), rows, n, x, x_stride, y, y_stride);
}

void gelu_erf(size_t n, const float* x, float* y) { gelu_erf(transformer_ops_config(), n, x, y); }

void gelu_tanh(size_t n, const float* x, float* y) {
  gelu_tanh(transformer_ops_config(), n, x, y);
}

void silu(size_t n, const float* x, float* y) { silu(transformer_ops_config(), n, x, y); }

void swiglu(size_t rows, size_t n, const float* gate, size_t gate_stride, const float* up,
            size_t up_stride, float* y, size_t y_stride) {
  swiglu(transformer_ops_config(), rows, n, gate, gate_stride, up, up_stride, y, y_stride);
}

void residual_add(size_t n, const float* a, const float* b, float* y) {
  // Memory-bound; the compiler's vectorisation at the baseline ISA already saturates it.
  parallel_elements(n, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) y[i] = a[i] + b[i];
  });
}

Status attention(const AttentionParams& p, const float* q, const KvRows& k, const KvRows& v,
                 std::span<const int32_t> kv_valid, std::span<const int32_t> q_pos, float* out) {
  return attention(transformer_ops_config(), p, q, k, v, kv_valid, q_pos, out);
}

}  // namespace sparq::kernels
