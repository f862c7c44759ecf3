// The tensors each model family stores in a .sparq file: canonical names, shapes and
// roles. Importers write these names, model graphs bind them, `sparq synth` generates
// them; one definition for all three.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "formats/error.h"

namespace sparq::runtime {

// What a tensor does, which decides how converters may encode it: only `linear` weights
// are pruned and quantized by default; embeddings may be f16/q8; the rest stays f32.
enum class TensorRole { linear, embedding, norm, bias };

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> dims;
  TensorRole role;
};

// The choices inside an encoder, as enums so that a forward pass branches on a value, not a
// string; stored in the .sparq metadata by the names given here.
enum class Activation { gelu, gelu_tanh };  // erf GELU, or its tanh approximation
// The head on the first token: BERT's pooler and RoBERTa's classifier.dense (tanh),
// DistilBERT's pre_classifier (relu), or none (the classifier, if any, reads the first
// token's hidden state).
enum class PoolerHead { tanh, relu, none };
// What `embed` returns: the first token's hidden state, the mean or max over the real
// tokens, or the pooler's output.
enum class Pooling { cls, mean, max, pooler };
NLOHMANN_JSON_SERIALIZE_ENUM(Activation, {{Activation::gelu, "gelu"}, {Activation::gelu_tanh, "gelu_tanh"}})
NLOHMANN_JSON_SERIALIZE_ENUM(PoolerHead, {{PoolerHead::tanh, "tanh"}, {PoolerHead::relu, "relu"}, {PoolerHead::none, "none"}})
NLOHMANN_JSON_SERIALIZE_ENUM(Pooling, {{Pooling::cls, "cls"}, {Pooling::mean, "mean"}, {Pooling::max, "max"},
                                       {Pooling::pooler, "pooler"}})

struct BertConfig {
  uint64_t vocab_size = 30522, hidden_size = 768, num_layers = 12, num_heads = 12;
  uint64_t intermediate_size = 3072, max_positions = 512, type_vocab_size = 2;
  uint64_t num_labels = 2;          // 0: an embedder, no classifier head
  double layer_norm_eps = 1e-12;
  Activation activation = Activation::gelu;
  // The family's variants differ only in these (Hugging Face BERT, RoBERTa, DistilBERT,
  // sentence-transformers): type_vocab_size 0 means no token-type embedding (DistilBERT);
  // RoBERTa numbers positions from padding_idx + 1, so its position_offset is 2.
  uint64_t position_offset = 0;
  PoolerHead pooler = PoolerHead::tanh;  // none: no pooler tensors
  Pooling pooling = Pooling::cls;        // L2-normalised when `normalize`
  bool normalize = false;
};

// How RoPE frequencies are stretched for contexts beyond the trained one: none, or
// Llama 3.1's "llama3" scheme (long wavelengths divided by `factor`, short ones kept,
// a smooth blend between low_freq_factor and high_freq_factor).
enum class RopeScaling { none, llama3 };
NLOHMANN_JSON_SERIALIZE_ENUM(RopeScaling, {{RopeScaling::none, "none"}, {RopeScaling::llama3, "llama3"}})

// A Llama-family decoder: Llama 2/3, TinyLlama, SmolLM, Mistral (no sliding window) and
// Qwen2 (q/k/v biases) share one graph. Weights follow Hugging Face's layout, Q and K rows
// in its half-split RoPE order; importers of other layouts (GGUF, llama2.c) un-permute.
struct LlamaConfig {
  uint64_t vocab_size = 32000, hidden_size = 2048, num_layers = 22, num_heads = 32;
  uint64_t num_kv_heads = 4, intermediate_size = 5632, max_positions = 2048;
  uint64_t head_dim = 0;  // 0: hidden_size / num_heads
  double rms_norm_eps = 1e-5, rope_theta = 10000.0;
  RopeScaling rope_scaling = RopeScaling::none;
  double rope_factor = 1.0, rope_low_freq_factor = 1.0, rope_high_freq_factor = 4.0;
  uint64_t rope_original_max_positions = 0;  // llama3 scaling: the trained context
  bool attention_bias = false;  // Qwen2: biases on q, k and v
  bool tie_embeddings = false;
  std::string variant = "llama";  // the source family (llama, mistral, qwen2), for display

  uint64_t resolved_head_dim() const { return head_dim != 0 ? head_dim : hidden_size / num_heads; }
};

// What a decoder needs besides its graph to generate text: the special tokens and the
// defaults of the checkpoint's generation_config.json. The "generation" object of a .sparq.
struct GenerationConfig {
  int64_t bos_token_id = -1;           // -1: none
  std::vector<int64_t> eos_token_ids;  // generation stops at any of them
  bool add_bos_token = true;           // prepend BOS to a prompt
  std::string chat_template;           // Jinja source from tokenizer_config.json, may be empty
  double temperature = 1.0, top_p = 1.0, min_p = 0.0, repetition_penalty = 1.0;
  uint64_t top_k = 0;                  // 0: off
  bool do_sample = false;              // false: greedy unless the user asks otherwise
};

// Named presets: "bert-base", "bert-tiny" (bert); "tinyllama-1.1b", "llama-tiny" (llama).
Result<nlohmann::json> architecture_preset(const std::string& arch, const std::string& preset);
std::vector<std::string> preset_names(const std::string& arch);

// Architecture metadata (the "architecture" object of a .sparq file) <-> configs. Unknown
// or out-of-range fields are errors naming the field.
Result<BertConfig> bert_config_from_json(const nlohmann::json& architecture);
Result<LlamaConfig> llama_config_from_json(const nlohmann::json& architecture);
nlohmann::json to_json(const BertConfig& c);
nlohmann::json to_json(const LlamaConfig& c);
Result<GenerationConfig> generation_config_from_json(const nlohmann::json& generation);
nlohmann::json to_json(const GenerationConfig& c);

std::vector<TensorSpec> bert_tensors(const BertConfig& c);
std::vector<TensorSpec> llama_tensors(const LlamaConfig& c);
// The tensor list for an "architecture" object of either family.
Result<std::vector<TensorSpec>> tensors_for(const nlohmann::json& architecture);

}  // namespace sparq::runtime
