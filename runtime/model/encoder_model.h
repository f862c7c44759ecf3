// A BERT-family encoder (BERT, RoBERTa, DistilBERT, sentence-transformers bodies) bound to
// the tensors of a .sparq file: weights are validated and packed once at load for the
// kernels this process chose, whatever their encoding (dense f32/f16/bf16/q8/q4, CSR,
// BSR); forward passes then run on batches of token ids without parsing or packing.
//
// Forward: embeddings (word + position [+ token type]) → LayerNorm; per layer fused QKV
// matmul → attention with the padding mask → output projection → residual + LayerNorm →
// FFN up → GELU → FFN down → residual + LayerNorm. Heads: pooler (tanh/relu on the first
// token) → classifier; or pooling (cls/mean/max/pooler, optional L2 norm) for embeddings.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "formats/error.h"
#include "kernels/isa.h"
#include "runtime/model/model_schema.h"

namespace sparq::formats {
class SparqReader;
}

namespace sparq::runtime {

// A padded batch: `batch` sequences of `seq_len` ids each, row-major; lengths[b] real
// tokens, the rest padding (ignored through the attention mask).
struct TokenBatch {
  size_t batch = 0, seq_len = 0;
  // batch · seq_len each; type_ids may be empty (all 0), and models without token types
  // (DistilBERT) ignore them.
  std::vector<int32_t> ids, type_ids;
  std::vector<int32_t> lengths;        // batch entries in [1, seq_len]
};

struct EncoderOptions {
  // The ISA level whose kernels the model packs for and runs; unset: selected_isa() (the
  // best level, or SPARQ_ISA). Tests compare levels in one process through this.
  std::optional<kernels::Isa> isa;
  // Attention with int8 products (kernels::TransformerOpsConfig::attention_int8), where the
  // ISA has them; unset: SPARQ_ATTENTION (f32, int8 or auto), auto meaning int8 when the
  // layers' weights are q8/q4 (their matmuls already round activations to int8) and f32
  // otherwise.
  std::optional<bool> int8_attention;
};

class EncoderModel {
 public:
  // Opens, validates and packs `path`. Errors name the file and the tensor.
  static Result<std::unique_ptr<EncoderModel>> load(const std::string& path,
                                                    const EncoderOptions& options = {});
  // Binds an already open reader (kept alive by the model).
  static Result<std::unique_ptr<EncoderModel>> load(std::shared_ptr<const formats::SparqReader> reader,
                                                    const EncoderOptions& options = {});
  ~EncoderModel();

  const BertConfig& config() const;
  const nlohmann::json& metadata() const;    // the file's metadata (tokenizer, labels, ...)
  const std::string& path() const;           // the file it was loaded from
  std::vector<std::string> labels() const;    // num_labels names ("LABEL_i" when absent)
  double temperature() const;                 // probabilities are softmax(logits / T); 1: none stored
  size_t embedding_dim() const;               // hidden_size
  uint64_t weight_bytes() const;              // bytes of the stored tensors
  kernels::Isa isa() const;                   // the level the kernels run at
  // One line per linear layer kind: "layers.*.ffn.up.weight: csr:q8 -> quads 1x4 (avx512vnni)".
  std::vector<std::string> describe_kernels() const;

  // logits: batch · num_labels floats. Not re-entrant: one forward at a time per model
  // (each forward already uses every thread of the kernels' pool).
  Status classify(const TokenBatch& batch, std::span<float> logits);
  // embeddings: batch · hidden_size floats, pooled and normalised as the config says.
  Status embed(const TokenBatch& batch, std::span<float> embeddings);
  // The last layer's hidden states: batch · seq_len · hidden_size floats (tests, pooling).
  // Only real tokens are computed (padding costs no matmul time): padded positions are 0.
  Status hidden_states(const TokenBatch& batch, std::span<float> hidden);

 private:
  struct Impl;
  explicit EncoderModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sparq::runtime
