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

struct LlamaConfig {
  uint64_t vocab_size = 32000, hidden_size = 2048, num_layers = 22, num_heads = 32;
  uint64_t num_kv_heads = 4, intermediate_size = 5632, max_positions = 2048;
  double rms_norm_eps = 1e-5, rope_theta = 10000.0;
  bool tie_embeddings = false;
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

std::vector<TensorSpec> bert_tensors(const BertConfig& c);
std::vector<TensorSpec> llama_tensors(const LlamaConfig& c);
// The tensor list for an "architecture" object of either family.
Result<std::vector<TensorSpec>> tensors_for(const nlohmann::json& architecture);

}  // namespace sparq::runtime
