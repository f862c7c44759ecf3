// Bidirectional self-attention over sequences packed back to back (sequence b's tokens are
// rows [offsets[b], offsets[b+1]) of qkv and the output). A qkv row is the fused projection's
// output for one token, Q | K | V of heads · head_dim floats each, read in place; an output
// row is heads · head_dim floats. No padded position is ever computed. All sequences run in
// one parallel region, split statically by estimated cost; each output row is written by one
// kernel task whatever the thread count, so results do not depend on it. `int8_products`
// runs ops.attention_int8 where the family has it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/transformer_ops.h"

namespace sparq::runtime {

void packed_self_attention(const kernels::TransformerOpsConfig& ops, bool int8_products, size_t heads,
                           size_t head_dim, std::span<const int32_t> offsets, const float* qkv, float* out);

}  // namespace sparq::runtime
