// Transformer operations on f32 buffers: norms, softmax, activations, RoPE, scaled-dot-product
// attention, embedding lookup, residual add. Plain functions on buffers with explicit sizes
// and strides (in elements, not bytes); they know nothing of tensors or files.
//
// The free functions below run the kernels of the process's ISA (selected_isa(), chosen once)
// and split work over OpenMP threads with static partitioning. Every output element is
// computed by exactly one thread with the same instruction sequence whatever the thread
// count, so results are bitwise identical for any thread count.
//
// In-place use (y == x, y == a, ...) is allowed wherever input and output have the same shape
// and stride.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "formats/error.h"
#include "kernels/isa.h"

namespace sparq::kernels {

// ---- Row-wise norms over [rows, n] ------------------------------------------------------
// layernorm: y = (x - mean) / sqrt(var + eps) * gamma + beta, var the biased (1/n) variance,
// computed in two passes (mean first) so large offsets do not cancel.
void layernorm(size_t rows, size_t n, const float* x, size_t x_stride, const float* gamma,
               const float* beta, float eps, float* y, size_t y_stride);
// rmsnorm (Llama): y = x / sqrt(mean(x^2) + eps) * gamma.
void rmsnorm(size_t rows, size_t n, const float* x, size_t x_stride, const float* gamma, float eps,
             float* y, size_t y_stride);

// ---- Softmax over each row of [rows, n] -------------------------------------------------
// y = exp(x - max) / sum(exp(x - max)). Entries may be -inf (masked): they get exactly 0.
// A row whose entries are all -inf (fully masked) gets all zeros — a deterministic choice
// that keeps NaN out of downstream sums; such rows are padding whose output is not used.
// Inputs must otherwise be finite (+inf or NaN give NaN in that row).
void softmax(size_t rows, size_t n, const float* x, size_t x_stride, float* y, size_t y_stride);

// ---- Element-wise activations over n contiguous values -----------------------------------
// gelu_erf: x * Phi(x) with Phi the standard normal CDF, i.e. 0.5 x (1 + erf(x / sqrt 2)).
void gelu_erf(size_t n, const float* x, float* y);
// gelu_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), evaluated as the equal
// x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)) so neither tail cancels.
void gelu_tanh(size_t n, const float* x, float* y);
// silu: x * sigmoid(x).
void silu(size_t n, const float* x, float* y);
// swiglu over [rows, n]: y = silu(gate) * up.
void swiglu(size_t rows, size_t n, const float* gate, size_t gate_stride, const float* up,
            size_t up_stride, float* y, size_t y_stride);
// residual add: y = a + b.
void residual_add(size_t n, const float* a, const float* b, float* y);

// ---- Rotary position embedding, in place -----------------------------------------------
// x has layout [batch, seq, heads, head_dim], contiguous. Token t of batch b sits at position
// p = pos_offset[b] + t (pos_offset empty: p = t). The first rotary_dim (even, <= head_dim)
// features of every head are rotated, the rest are left alone. Pair i (0 <= i < rotary_dim/2)
// rotates by the angle p * theta^(-2i / rotary_dim):
//   interleaved (GPT-J):         features (2i, 2i+1)
//   half_split  (GPT-NeoX, HF Llama): features (i, i + rotary_dim/2)
enum class RopeStyle { interleaved, half_split };
struct RopeParams {
  size_t batch = 1, seq = 1, heads = 1, head_dim = 0;
  size_t rotary_dim = 0;  // 0 means head_dim
  float theta = 10000.0f;
  RopeStyle style = RopeStyle::half_split;
  // rotary_dim/2 frequencies replacing theta^(-2i / rotary_dim) when set: context-extension
  // schemes (Llama 3.1's) stretch some wavelengths; the angle is p * inv_freq[i].
  const double* inv_freq = nullptr;
};
Status rope(const RopeParams& p, std::span<const int32_t> pos_offset, float* x);

// ---- How keys and values are stored for attention ------------------------------------
// Vector by vector, a vector being the head_dim values of one position and KV head:
//   f32;
//   f16: IEEE binary16, rounded to nearest even (widening back is exact);
//   q8:  int8 values n with one f32 scale per vector, value = scale * n; scale = max|x| / 127
//        and n = x * (127 / max|x|) rounded to nearest (a zero vector: scale 0, all n 0).
// q8 keeps one scale per vector rather than one per 32 values: decode appends one vector per
// KV head either way, but a vector's scale factors out of q.k and into its V row's softmax
// weight, so attention's inner loops only widen int8 to f32 and pay one multiply per key, and
// the scales cost 4 bytes per head_dim values (6 % at head_dim 64) instead of 4 per 32 (12.5 %).
enum class KvEncoding { f32, f16, q8 };
const char* kv_encoding_name(KvEncoding e);
// Bytes of one stored value: 4, 2, 1 (q8's scales come on top: sizeof(float) per vector).
size_t kv_value_bytes(KvEncoding e);

// K or V as attention reads them: vectors [batch, kv_capacity, n_kv_heads] of head_dim values
// in AttentionParams::kv_encoding, and for q8 their scales, one float per vector in the same
// order. f32 rows convert from a plain float pointer.
struct KvRows {
  KvRows(const float* f32_values) : values(f32_values) {}
  KvRows(const void* values_, const float* scales_) : values(values_), scales(scales_) {}
  const void* values = nullptr;
  const float* scales = nullptr;
};

// Encodes `count` vectors of head_dim contiguous f32 values from x as vectors [first,
// first + count) of the rows at `values` (and `scales`, q8 only). One implementation for
// every ISA: a decode step encodes one vector per layer and KV head.
void encode_kv(KvEncoding e, size_t count, size_t head_dim, const float* x, void* values,
               float* scales, size_t first);
// Vector `index` of `rows` as f32: the values attention computes with.
void decode_kv(KvEncoding e, const KvRows& rows, size_t index, size_t head_dim, float* out);

// ---- Scaled-dot-product attention -------------------------------------------------------
// Layouts, all contiguous except for the K/V sequence capacity and the strides below:
//   q   [batch, q_len, n_heads, head_dim] f32
//   k,v [batch, kv_capacity, n_kv_heads, head_dim] in kv_encoding (KvRows above); the first
//       kv_len positions are used (a KV cache is allocated for kv_capacity >= kv_len)
//   out [batch, q_len, n_heads, head_dim] f32
// f16 and q8 K/V mean decode_kv's values: the result is what f32 K/V holding them gives.
// Query head h reads KV head h / (n_heads / n_kv_heads): multi-head when equal, grouped-query
// (GQA) or multi-query otherwise; n_kv_heads must divide n_heads.
// Masks, per batch element b:
//   key padding: keys j >= kv_valid[b] are masked (kv_valid empty: all kv_len keys valid).
//   causal: query i sits at position q_pos[b] + i and sees keys j <= that position.
//       q_pos empty means kv_len - q_len for every b: the queries are the last q_len positions
//       (prefill: q_len = kv_len; decode: q_len = 1 against a cache of kv_len).
// A query that sees no key (fully masked) gets a zero output row, like softmax above.
// scores = scale * q.k (scale usually 1/sqrt(head_dim)); softmax is computed online in key
// blocks (no score matrix is stored), which equals the full softmax up to f32 rounding.
// Strides: q and f32 K/V rows may sit further apart than their width, so an encoder reads
// Q, K and V in place from one fused projection's output ([tokens, Q | K | V]).
struct AttentionParams {
  size_t batch = 1, q_len = 1, kv_len = 0, kv_capacity = 0;  // kv_capacity 0 means kv_len
  size_t n_heads = 1, n_kv_heads = 1, head_dim = 0;
  float scale = 0.0f;  // 0 means 1/sqrt(head_dim)
  bool causal = false;
  KvEncoding kv_encoding = KvEncoding::f32;
  size_t q_stride = 0;   // floats from one query position to the next; 0: n_heads · head_dim
  size_t kv_stride = 0;  // f32 K/V only, floats between positions; 0: n_kv_heads · head_dim
};
Status attention(const AttentionParams& p, const float* q, const KvRows& k, const KvRows& v,
                 std::span<const int32_t> kv_valid, std::span<const int32_t> q_pos, float* out);

// ---- Embedding lookup -----------------------------------------------------------------
// The table is a .sparq payload (formats/SPEC.md section 5) of a [vocab, dim] tensor:
// f32 or f16 values row-major, or q8 (scales f32[vocab * G]; values i8[vocab * dim], the
// values section starting at the next 64-byte boundary). out row t = dequantized row tokens[t].
enum class EmbeddingEncoding { f32, f16, q8 };
struct EmbeddingTable {
  EmbeddingEncoding encoding = EmbeddingEncoding::f32;
  size_t vocab = 0, dim = 0;
  size_t group_size = 0;  // q8 only: 0 means one scale per row
  const void* payload = nullptr;
  size_t payload_bytes = 0;
};
// Bytes the payload of `table` must hold (its `payload_bytes` is checked against this).
size_t embedding_payload_bytes(const EmbeddingTable& table);
Status embedding_lookup(const EmbeddingTable& table, std::span<const int32_t> tokens, float* out,
                        size_t out_stride);

// ---- The per-ISA config ----------------------------------------------------------------
// One ISA level's kernels (XNNPACK-style config, ../shared/STYLE.md). Each entry processes all
// of its arguments on the calling thread; the free functions above validate and thread.
// Operations where SIMD does not pay (RoPE, embedding, residual add) are shared by all ISAs
// and are not in the config.
struct TransformerOpsConfig {
  Isa isa = Isa::ref;
  const char* name = "ref";  // the kernel family: "ref", "avx2", "avx512", "neon"
  void (*layernorm)(size_t rows, size_t n, const float* x, size_t x_stride, const float* gamma,
                    const float* beta, float eps, float* y, size_t y_stride) = nullptr;
  void (*rmsnorm)(size_t rows, size_t n, const float* x, size_t x_stride, const float* gamma,
                  float eps, float* y, size_t y_stride) = nullptr;
  void (*softmax)(size_t rows, size_t n, const float* x, size_t x_stride, float* y,
                  size_t y_stride) = nullptr;
  void (*gelu_erf)(size_t n, const float* x, float* y) = nullptr;
  void (*gelu_tanh)(size_t n, const float* x, float* y) = nullptr;
  void (*silu)(size_t n, const float* x, float* y) = nullptr;
  void (*swiglu)(size_t rows, size_t n, const float* gate, size_t gate_stride, const float* up,
                 size_t up_stride, float* y, size_t y_stride) = nullptr;
  // The vector exp the kernels above use, as an array op so its error can be measured.
  void (*exp)(size_t n, const float* x, float* y) = nullptr;
  // Runs attention tasks [begin, end) of attention_task_count(p) (kernels/attention_tasks.h)
  // on parameters already validated and resolved (scale, kv_capacity and strides set).
  void (*attention)(const AttentionParams& p, const float* q, const KvRows& k, const KvRows& v,
                    const int32_t* kv_valid, const int32_t* q_pos, float* out, size_t begin,
                    size_t end) = nullptr;
  // The same with int8 products where the ISA has them (VNNI; null elsewhere): Q, K and V
  // quantized per vector as the q8 encoding does, the softmax weights per row and key block
  // to u8 against their largest, and QKᵀ and PV as exact int32 sums. Its results differ from
  // `attention`'s by that rounding (bounds in tests/kernels/transformer_ops_vnni_attention_test.cpp); a
  // model opts in (the encoder does for quantized weights). f32 K/V only; other encodings,
  // and heads too long to keep quantized in cache, run `attention`.
  decltype(attention) attention_int8 = nullptr;
};

// The config for selected_isa(), filled on first call (the best level if SPARQ_ISA is
// invalid; selected_isa() reports that error).
const TransformerOpsConfig& transformer_ops_config();
// The config for an explicit level: an error if the CPU/OS cannot run it or this build has
// no kernels for it. Levels share kernel families (avx512vnni and amx use avx512's).
Result<const TransformerOpsConfig*> transformer_ops_config_for(Isa isa);

// The same operations run with an explicit config (tests and benchmarks compare ISAs through
// these; the free functions above call them with transformer_ops_config()).
void layernorm(const TransformerOpsConfig& ops, size_t rows, size_t n, const float* x, size_t x_stride,
               const float* gamma, const float* beta, float eps, float* y, size_t y_stride);
void rmsnorm(const TransformerOpsConfig& ops, size_t rows, size_t n, const float* x, size_t x_stride,
             const float* gamma, float eps, float* y, size_t y_stride);
void softmax(const TransformerOpsConfig& ops, size_t rows, size_t n, const float* x, size_t x_stride,
             float* y, size_t y_stride);
void gelu_erf(const TransformerOpsConfig& ops, size_t n, const float* x, float* y);
void gelu_tanh(const TransformerOpsConfig& ops, size_t n, const float* x, float* y);
void silu(const TransformerOpsConfig& ops, size_t n, const float* x, float* y);
void swiglu(const TransformerOpsConfig& ops, size_t rows, size_t n, const float* gate,
            size_t gate_stride, const float* up, size_t up_stride, float* y, size_t y_stride);
Status attention(const TransformerOpsConfig& ops, const AttentionParams& p, const float* q,
                 const KvRows& k, const KvRows& v, std::span<const int32_t> kv_valid,
                 std::span<const int32_t> q_pos, float* out);

}  // namespace sparq::kernels
