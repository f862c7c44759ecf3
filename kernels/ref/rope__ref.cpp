// Rotary position embedding (interleaved and half-split), in place. One implementation for
// every ISA: it is a small fraction of a layer's time and its sin/cos are computed once per
// (token, pair) and reused by all heads.
#include <cmath>
#include <string>

#include "kernels/transformer_ops.h"

namespace sparq::kernels {

Status rope(const RopeParams& p, std::span<const int32_t> pos_offset, float* x) {
  const size_t rd = p.rotary_dim ? p.rotary_dim : p.head_dim;
  if (p.head_dim == 0 || rd % 2 != 0 || rd > p.head_dim)
    return Error("rope: rotary_dim " + std::to_string(rd) + " must be even and <= head_dim " +
                 std::to_string(p.head_dim));
  if (!(p.theta > 0.0f)) return Error("rope: theta must be positive");
  if (!pos_offset.empty() && pos_offset.size() != p.batch)
    return Error("rope: " + std::to_string(pos_offset.size()) + " position offsets for batch " +
                 std::to_string(p.batch));
  const size_t half = rd / 2;
  // The pair (a, b) of index i: interleaved (2i, 2i+1), half-split (i, i + rd/2).
  const size_t a_step = p.style == RopeStyle::interleaved ? 2 : 1;
  const size_t b_offset = p.style == RopeStyle::interleaved ? 1 : half;
  const int64_t tokens = static_cast<int64_t>(p.batch * p.seq);
  // Angles in double: p * theta^(-2i/rd) loses ~1e-4 rad in f32 at positions in the thousands.
#pragma omp parallel for schedule(static) if (tokens * p.heads * rd > 65536)
  for (int64_t tok = 0; tok < tokens; ++tok) {
    const size_t b = static_cast<size_t>(tok) / p.seq;
    const double pos = static_cast<double>(tok % static_cast<int64_t>(p.seq)) +
                       (pos_offset.empty() ? 0 : pos_offset[b]);
    float* xt = x + static_cast<size_t>(tok) * p.heads * p.head_dim;
    for (size_t i = 0; i < half; ++i) {
      const double angle =
          pos * (p.inv_freq ? p.inv_freq[i]
                            : std::pow(static_cast<double>(p.theta), -2.0 * static_cast<double>(i) / rd));
      const double c = std::cos(angle), s = std::sin(angle);
      for (size_t h = 0; h < p.heads; ++h) {
        float* xa = xt + h * p.head_dim + i * a_step;
        float* xb = xa + b_offset;
        const double a = *xa, bv = *xb;
        *xa = static_cast<float>(a * c - bv * s);
        *xb = static_cast<float>(a * s + bv * c);
      }
    }
  }
  return {};
}

}  // namespace sparq::kernels
