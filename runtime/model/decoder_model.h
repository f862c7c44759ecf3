// A Llama-family decoder (Llama 2/3, TinyLlama, SmolLM, Mistral, Qwen2) bound to the tensors
// of a .sparq file, packed once at load for this process's kernels whatever their encoding.
//
// Forward, per layer: RMSNorm → fused QKV matmul (+ bias, Qwen2) → RoPE on Q and K → K, V
// appended to the sequence's KV-cache slot → causal grouped-query attention over the slot →
// output projection → residual; RMSNorm → gate and up matmuls → SwiGLU → down → residual.
// Then the final RMSNorm and the LM head (the embedding table when tied) on the rows whose
// logits are asked for.
//
// One forward runs several sequences at once: each step brings one sequence's new tokens
// (a whole prompt: prefill; one token: decode), all steps' rows go through every matmul
// together (GEMM for a prompt, GEMV-like for a decode batch), attention runs per sequence
// against its own slot. A scheduler (batch job, server) decides which sequences step.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/error.h"
#include "kernels/isa.h"
#include "runtime/model/kv_cache.h"
#include "runtime/model/model_schema.h"

namespace sparq::formats {
class SparqReader;
}

namespace sparq::runtime {

struct DecoderOptions {
  // The ISA level whose kernels the model packs for and runs; unset: selected_isa().
  std::optional<kernels::Isa> isa;
};

// One sequence's new tokens in a forward: they continue the sequence cached in `slot`.
struct DecodeStep {
  size_t slot = 0;
  std::span<const int32_t> tokens;  // at least one
  // false: the logits of the last token only (generation); true: of every token (scoring,
  // perplexity).
  bool all_logits = false;
};

// Sees the input of every linear layer in a forward (calibration: activation statistics
// for pruning). `tensor` names the layer's weight as stored in the .sparq file; `x` is
// rows x cols, row-major, valid only during the call.
class LinearInputObserver {
 public:
  virtual ~LinearInputObserver() = default;
  virtual void observe(std::string_view tensor, const float* x, size_t rows, size_t cols) = 0;
};

class DecoderModel {
 public:
  static Result<std::unique_ptr<DecoderModel>> load(const std::string& path, const DecoderOptions& options = {});
  static Result<std::unique_ptr<DecoderModel>> load(std::shared_ptr<const formats::SparqReader> reader,
                                                    const DecoderOptions& options = {});
  ~DecoderModel();

  const LlamaConfig& config() const;
  const GenerationConfig& generation() const;  // defaults when the file has no "generation"
  const nlohmann::json& metadata() const;
  const std::string& path() const;
  uint64_t weight_bytes() const;  // bytes of the stored tensors
  // Bytes a decode step reads from the packed weights (every linear layer once, plus one
  // embedding row): the memory traffic that bounds decode speed.
  uint64_t decode_weight_bytes() const;
  kernels::Isa isa() const;
  std::vector<std::string> describe_kernels() const;

  // A cache for `slots` sequences of up to `context` tokens (0: the model's max_positions),
  // its keys and values stored as `encoding`.
  Result<KvCache> make_cache(size_t slots, size_t context = 0, kernels::KvEncoding encoding = kernels::KvEncoding::f32,
                             uint64_t max_bytes = 0) const;

  // Runs `steps` (distinct slots) and appends their tokens to the cache. `logits` receives,
  // step by step, one row of vocab_size floats per token (all_logits) or for the last token;
  // logit_rows(steps) rows in all. Errors (a token id out of range, a sequence longer than
  // the cache's context) leave the cache unchanged. Not re-entrant: one forward at a time.
  Status forward(std::span<const DecodeStep> steps, KvCache& cache, std::span<float> logits);
  static size_t logit_rows(std::span<const DecodeStep> steps);
  // Every later forward shows `observer` each linear layer's input (null: none, the
  // default; it must outlive the forwards it sees).
  void set_linear_input_observer(LinearInputObserver* observer);

 private:
  struct Impl;
  explicit DecoderModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sparq::runtime
