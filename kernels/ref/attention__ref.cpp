// Scaled-dot-product attention, scalar reference: per query row, the maximum score, then the
// softmax-weighted sum of V rows, recomputing the scores rather than storing them. f16 and q8
// K/V vectors are decoded to f32 (decode_kv) before the same arithmetic: that is what the
// SIMD kernels' f16/q8 paths must reproduce.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/attention_tasks.h"
#include "kernels/ref/transformer_ops__ref.h"

namespace sparq::kernels {

namespace {

double dot(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

}  // namespace

void attention__ref(const AttentionParams& p, const float* q, const KvRows& k, const KvRows& v,
                    const int32_t* kv_valid, const int32_t* q_pos, float* out, size_t begin,
                    size_t end) {
  const size_t group = p.n_heads / p.n_kv_heads;
  const size_t hd = p.head_dim;
  float kr[kAttentionMaxHeadDim], vr[kAttentionMaxHeadDim];
  for (size_t task = begin; task < end; ++task) {
    const AttentionTaskRange t = attention_task(p, task);
    // Key j's vector as f32: read in place (f32, whatever the stride) or decoded (packed).
    const auto kv_vector = [&](const KvRows& rows, size_t j, float* buffer) -> const float* {
      const size_t at = attention_kv_offset(p, t.batch, j, t.kv_head);
      if (p.kv_encoding == KvEncoding::f32) return static_cast<const float*>(rows.values) + at;
      decode_kv(p.kv_encoding, rows, at / hd, hd, buffer);
      return buffer;
    };
    const auto score = [&](const float* qr, size_t j) { return p.scale * dot(qr, kv_vector(k, j, kr), hd); };
    for (size_t i = t.q_begin; i < t.q_end; ++i) {
      const size_t keys = attention_visible_keys(p, kv_valid, q_pos, t.batch, i);
      for (size_t h = t.kv_head * group; h < (t.kv_head + 1) * group; ++h) {
        const float* qr = q + attention_q_offset(p, t.batch, i, h);
        float* o = out + ((t.batch * p.q_len + i) * p.n_heads + h) * hd;
        std::fill(o, o + hd, 0.0f);
        if (keys == 0) continue;  // fully masked: zero row (see header)
        double max = -std::numeric_limits<double>::infinity();
        for (size_t j = 0; j < keys; ++j) max = std::max(max, score(qr, j));
        double sum = 0;
        for (size_t j = 0; j < keys; ++j) {
          const double w = std::exp(score(qr, j) - max);
          sum += w;
          const float* vj = kv_vector(v, j, vr);
          for (size_t d = 0; d < hd; ++d) o[d] += static_cast<float>(w * vj[d]);
        }
        for (size_t d = 0; d < hd; ++d) o[d] = static_cast<float>(o[d] / sum);
      }
    }
  }
}

}  // namespace sparq::kernels
