#include "runtime/model/model_schema.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

namespace sparq::runtime {
namespace {

using nlohmann::json;

// Reads an integer field within [lo, hi] into *out when present.
Status read_uint(const json& j, const char* key, uint64_t lo, uint64_t hi, uint64_t* out) {
  if (!j.contains(key)) return {};
  const json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() < static_cast<int64_t>(lo) ||
      v.get<uint64_t>() > hi) {
    return Error(fmt::format("architecture.{}: expected an integer in [{}, {}], got {}", key, lo, hi,
                             v.dump()));
  }
  *out = v.get<uint64_t>();
  return {};
}

Status read_double(const json& j, const char* key, double lo, double hi, double* out) {
  if (!j.contains(key)) return {};
  const json& v = j[key];
  if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi) {
    return Error(fmt::format("architecture.{}: expected a number in [{}, {}], got {}", key, lo, hi, v.dump()));
  }
  *out = v.get<double>();
  return {};
}

// Reads a string field that must be one of `allowed` into *out when present.
// An enum field given by one of its names (as NLOHMANN_JSON_SERIALIZE_ENUM spells them);
// an absent field keeps `*out`.
template <class E>
Status read_choice(const json& j, const char* key, std::initializer_list<E> allowed, E* out) {
  if (!j.contains(key)) return {};
  const json& v = j[key];
  std::vector<std::string> quoted;
  for (E a : allowed) {
    if (v.is_string() && v == json(a)) {
      *out = a;
      return {};
    }
    quoted.push_back(json(a).dump());
  }
  return Error(fmt::format("architecture.{}: expected one of {}, got {}", key, fmt::join(quoted, ", "), v.dump()));
}

Status check_known_keys(const json& j, std::initializer_list<const char*> keys) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const char* k : keys) known = known || it.key() == k;
    if (!known) return Error(fmt::format("architecture.{}: unknown field", it.key()));
  }
  return {};
}

constexpr uint64_t kMaxDim = uint64_t{1} << 24;

}  // namespace

Result<BertConfig> bert_config_from_json(const json& a) {
  if (!a.is_object() || a.value("name", "") != "bert") return Error("architecture.name: expected \"bert\"");
  if (Status s = check_known_keys(a, {"name", "vocab_size", "hidden_size", "num_layers", "num_heads",
                                      "intermediate_size", "max_positions", "type_vocab_size",
                                      "num_labels", "layer_norm_eps", "activation", "position_offset",
                                      "pooler", "pooling", "normalize"});
      !s)
    return s.error();
  BertConfig c;
  for (auto [key, field] : {std::pair{"vocab_size", &c.vocab_size}, {"hidden_size", &c.hidden_size},
                            {"num_layers", &c.num_layers}, {"num_heads", &c.num_heads},
                            {"intermediate_size", &c.intermediate_size},
                            {"max_positions", &c.max_positions}}) {
    if (Status s = read_uint(a, key, 1, kMaxDim, field); !s) return s.error();
  }
  for (auto [key, field] : {std::pair{"num_labels", &c.num_labels}, {"type_vocab_size", &c.type_vocab_size},
                            {"position_offset", &c.position_offset}}) {
    if (Status s = read_uint(a, key, 0, kMaxDim, field); !s) return s.error();
  }
  if (Status s = read_choice(a, "pooler", {PoolerHead::tanh, PoolerHead::relu, PoolerHead::none}, &c.pooler); !s) return s.error();
  if (Status s = read_choice(a, "pooling", {Pooling::cls, Pooling::mean, Pooling::max, Pooling::pooler}, &c.pooling); !s) {
    return s.error();
  }
  if (a.contains("normalize")) {
    if (!a["normalize"].is_boolean()) return Error("architecture.normalize: expected true or false");
    c.normalize = a["normalize"].get<bool>();
  }
  if (c.position_offset + 1 >= c.max_positions) {
    return Error(fmt::format("architecture.position_offset: {} leaves no position for a token (max_positions {})",
                             c.position_offset, c.max_positions));
  }
  if (c.pooling == Pooling::pooler && c.pooler == PoolerHead::none) {
    return Error("architecture.pooling: \"pooler\" needs a pooler (architecture.pooler is \"none\")");
  }
  if (Status s = read_double(a, "layer_norm_eps", 0, 1, &c.layer_norm_eps); !s) return s.error();
  if (Status s = read_choice(a, "activation", {Activation::gelu, Activation::gelu_tanh}, &c.activation); !s) return s.error();
  if (c.hidden_size % c.num_heads != 0) {
    return Error(fmt::format("architecture: hidden_size {} is not a multiple of num_heads {}",
                             c.hidden_size, c.num_heads));
  }
  return c;
}

Result<LlamaConfig> llama_config_from_json(const json& a) {
  if (!a.is_object() || a.value("name", "") != "llama") return Error("architecture.name: expected \"llama\"");
  if (Status s = check_known_keys(a, {"name", "vocab_size", "hidden_size", "num_layers", "num_heads",
                                      "num_kv_heads", "intermediate_size", "max_positions",
                                      "rms_norm_eps", "rope_theta", "tie_embeddings"});
      !s)
    return s.error();
  LlamaConfig c;
  for (auto [key, field] : {std::pair{"vocab_size", &c.vocab_size}, {"hidden_size", &c.hidden_size},
                            {"num_layers", &c.num_layers}, {"num_heads", &c.num_heads},
                            {"num_kv_heads", &c.num_kv_heads},
                            {"intermediate_size", &c.intermediate_size},
                            {"max_positions", &c.max_positions}}) {
    if (Status s = read_uint(a, key, 1, kMaxDim, field); !s) return s.error();
  }
  if (Status s = read_double(a, "rms_norm_eps", 0, 1, &c.rms_norm_eps); !s) return s.error();
  if (Status s = read_double(a, "rope_theta", 1, 1e9, &c.rope_theta); !s) return s.error();
  if (a.contains("tie_embeddings")) {
    if (!a["tie_embeddings"].is_boolean()) return Error("architecture.tie_embeddings: expected true or false");
    c.tie_embeddings = a["tie_embeddings"].get<bool>();
  }
  if (c.hidden_size % c.num_heads != 0 || c.num_heads % c.num_kv_heads != 0) {
    return Error(fmt::format("architecture: need hidden_size % num_heads == 0 and num_heads % num_kv_heads == 0 "
                             "(got {}, {}, {})", c.hidden_size, c.num_heads, c.num_kv_heads));
  }
  return c;
}

json to_json(const BertConfig& c) {
  return {{"name", "bert"}, {"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size},
          {"num_layers", c.num_layers}, {"num_heads", c.num_heads},
          {"intermediate_size", c.intermediate_size}, {"max_positions", c.max_positions},
          {"type_vocab_size", c.type_vocab_size}, {"num_labels", c.num_labels},
          {"layer_norm_eps", c.layer_norm_eps}, {"activation", c.activation},
          {"position_offset", c.position_offset}, {"pooler", c.pooler}, {"pooling", c.pooling},
          {"normalize", c.normalize}};
}

json to_json(const LlamaConfig& c) {
  return {{"name", "llama"}, {"vocab_size", c.vocab_size}, {"hidden_size", c.hidden_size},
          {"num_layers", c.num_layers}, {"num_heads", c.num_heads},
          {"num_kv_heads", c.num_kv_heads}, {"intermediate_size", c.intermediate_size},
          {"max_positions", c.max_positions}, {"rms_norm_eps", c.rms_norm_eps},
          {"rope_theta", c.rope_theta}, {"tie_embeddings", c.tie_embeddings}};
}

std::vector<std::string> preset_names(const std::string& arch) {
  if (arch == "bert") return {"bert-base", "bert-tiny"};
  if (arch == "llama") return {"tinyllama-1.1b", "llama-tiny"};
  return {};
}

Result<json> architecture_preset(const std::string& arch, const std::string& preset) {
  if (arch == "bert") {
    BertConfig c;  // defaults are BERT-base
    if (preset == "bert-tiny") {
      c.vocab_size = 1000, c.hidden_size = 64, c.num_layers = 2, c.num_heads = 2;
      c.intermediate_size = 256, c.max_positions = 128;
    } else if (preset != "bert-base") {
      return Error(fmt::format("unknown bert preset '{}' (known: bert-base, bert-tiny)", preset), ErrorKind::invalid_argument);
    }
    return to_json(c);
  }
  if (arch == "llama") {
    LlamaConfig c;  // defaults are TinyLlama-1.1B
    if (preset == "llama-tiny") {
      c.vocab_size = 512, c.hidden_size = 64, c.num_layers = 2, c.num_heads = 4, c.num_kv_heads = 2;
      c.intermediate_size = 192, c.max_positions = 256;
    } else if (preset != "tinyllama-1.1b") {
      return Error(fmt::format("unknown llama preset '{}' (known: tinyllama-1.1b, llama-tiny)", preset),
                   ErrorKind::invalid_argument);
    }
    return to_json(c);
  }
  return Error(fmt::format("unknown architecture '{}' (known: bert, llama)", arch), ErrorKind::invalid_argument);
}

std::vector<TensorSpec> bert_tensors(const BertConfig& c) {
  const uint64_t h = c.hidden_size, f = c.intermediate_size;
  std::vector<TensorSpec> t = {
      {"embeddings.word.weight", {c.vocab_size, h}, TensorRole::embedding},
      {"embeddings.position.weight", {c.max_positions, h}, TensorRole::embedding},
  };
  if (c.type_vocab_size > 0) {
    t.push_back({"embeddings.token_type.weight", {c.type_vocab_size, h}, TensorRole::embedding});
  }
  t.push_back({"embeddings.norm.weight", {h}, TensorRole::norm});
  t.push_back({"embeddings.norm.bias", {h}, TensorRole::bias});
  for (uint64_t i = 0; i < c.num_layers; ++i) {
    std::string p = fmt::format("layers.{}.", i);
    // Q, K and V are one matrix so a layer runs one matmul for all three.
    t.push_back({p + "attention.qkv.weight", {3 * h, h}, TensorRole::linear});
    t.push_back({p + "attention.qkv.bias", {3 * h}, TensorRole::bias});
    t.push_back({p + "attention.output.weight", {h, h}, TensorRole::linear});
    t.push_back({p + "attention.output.bias", {h}, TensorRole::bias});
    t.push_back({p + "attention.norm.weight", {h}, TensorRole::norm});
    t.push_back({p + "attention.norm.bias", {h}, TensorRole::bias});
    t.push_back({p + "ffn.up.weight", {f, h}, TensorRole::linear});
    t.push_back({p + "ffn.up.bias", {f}, TensorRole::bias});
    t.push_back({p + "ffn.down.weight", {h, f}, TensorRole::linear});
    t.push_back({p + "ffn.down.bias", {h}, TensorRole::bias});
    t.push_back({p + "ffn.norm.weight", {h}, TensorRole::norm});
    t.push_back({p + "ffn.norm.bias", {h}, TensorRole::bias});
  }
  if (c.pooler != PoolerHead::none) {
    t.push_back({"pooler.weight", {h, h}, TensorRole::linear});
    t.push_back({"pooler.bias", {h}, TensorRole::bias});
  }
  if (c.num_labels > 0) {
    t.push_back({"classifier.weight", {c.num_labels, h}, TensorRole::linear});
    t.push_back({"classifier.bias", {c.num_labels}, TensorRole::bias});
  }
  return t;
}

std::vector<TensorSpec> llama_tensors(const LlamaConfig& c) {
  const uint64_t h = c.hidden_size, f = c.intermediate_size;
  const uint64_t head_dim = h / c.num_heads, kv = c.num_kv_heads * head_dim;
  std::vector<TensorSpec> t = {{"embeddings.word.weight", {c.vocab_size, h}, TensorRole::embedding}};
  for (uint64_t i = 0; i < c.num_layers; ++i) {
    std::string p = fmt::format("layers.{}.", i);
    t.push_back({p + "attention.norm.weight", {h}, TensorRole::norm});
    t.push_back({p + "attention.qkv.weight", {h + 2 * kv, h}, TensorRole::linear});
    t.push_back({p + "attention.output.weight", {h, h}, TensorRole::linear});
    t.push_back({p + "ffn.norm.weight", {h}, TensorRole::norm});
    t.push_back({p + "ffn.gate.weight", {f, h}, TensorRole::linear});
    t.push_back({p + "ffn.up.weight", {f, h}, TensorRole::linear});
    t.push_back({p + "ffn.down.weight", {h, f}, TensorRole::linear});
  }
  t.push_back({"norm.weight", {h}, TensorRole::norm});
  if (!c.tie_embeddings) t.push_back({"lm_head.weight", {c.vocab_size, h}, TensorRole::linear});
  return t;
}

Result<std::vector<TensorSpec>> tensors_for(const json& architecture) {
  std::string name = architecture.is_object() ? architecture.value("name", "") : "";
  if (name == "bert") {
    auto c = bert_config_from_json(architecture);
    if (!c) return c.error();
    return bert_tensors(*c);
  }
  if (name == "llama") {
    auto c = llama_config_from_json(architecture);
    if (!c) return c.error();
    return llama_tensors(*c);
  }
  return Error(fmt::format("architecture.name: unknown architecture '{}' (known: bert, llama)", name));
}

}  // namespace sparq::runtime
