#include "runtime/model/model_schema.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

namespace sparq::runtime {
namespace {

using nlohmann::json;

// Reads an integer field within [lo, hi] into *out when present.
// `object` names the metadata object in messages ("architecture", "generation").
Status read_uint(const json& j, const char* key, uint64_t lo, uint64_t hi, uint64_t* out,
                 const char* object = "architecture") {
  if (!j.contains(key)) return {};
  const json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() < static_cast<int64_t>(lo) ||
      v.get<uint64_t>() > hi) {
    return Error(fmt::format("{}.{}: expected an integer in [{}, {}], got {}", object, key, lo, hi,
                             v.dump()));
  }
  *out = v.get<uint64_t>();
  return {};
}

Status read_double(const json& j, const char* key, double lo, double hi, double* out,
                   const char* object = "architecture") {
  if (!j.contains(key)) return {};
  const json& v = j[key];
  if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi) {
    return Error(fmt::format("{}.{}: expected a number in [{}, {}], got {}", object, key, lo, hi, v.dump()));
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

Status check_known_keys(const json& j, std::initializer_list<const char*> keys,
                        const char* object = "architecture") {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (const char* k : keys) known = known || it.key() == k;
    if (!known) return Error(fmt::format("{}.{}: unknown field", object, it.key()));
  }
  return {};
}

Status read_bool(const json& j, const char* key, bool* out, const char* object = "architecture") {
  if (!j.contains(key)) return {};
  if (!j[key].is_boolean()) return Error(fmt::format("{}.{}: expected true or false", object, key));
  *out = j[key].get<bool>();
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
                                      "num_kv_heads", "intermediate_size", "max_positions", "head_dim",
                                      "rms_norm_eps", "rope_theta", "rope_scaling", "rope_factor",
                                      "rope_low_freq_factor", "rope_high_freq_factor",
                                      "rope_original_max_positions", "attention_bias", "tie_embeddings",
                                      "variant"});
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
  if (Status s = read_uint(a, "head_dim", 0, 1024, &c.head_dim); !s) return s.error();
  if (Status s = read_uint(a, "rope_original_max_positions", 0, kMaxDim, &c.rope_original_max_positions); !s) {
    return s.error();
  }
  if (Status s = read_double(a, "rms_norm_eps", 0, 1, &c.rms_norm_eps); !s) return s.error();
  if (Status s = read_double(a, "rope_theta", 1, 1e9, &c.rope_theta); !s) return s.error();
  if (Status s = read_choice(a, "rope_scaling", {RopeScaling::none, RopeScaling::llama3}, &c.rope_scaling); !s) {
    return s.error();
  }
  for (auto [key, field] : {std::pair{"rope_factor", &c.rope_factor}, {"rope_low_freq_factor", &c.rope_low_freq_factor},
                            {"rope_high_freq_factor", &c.rope_high_freq_factor}}) {
    if (Status s = read_double(a, key, 1e-3, 1e6, field); !s) return s.error();
  }
  if (Status s = read_bool(a, "tie_embeddings", &c.tie_embeddings); !s) return s.error();
  if (Status s = read_bool(a, "attention_bias", &c.attention_bias); !s) return s.error();
  if (a.contains("variant")) {
    if (!a["variant"].is_string() || a["variant"].get_ref<const std::string&>().size() > 64) {
      return Error("architecture.variant: expected a short string");
    }
    c.variant = a["variant"].get<std::string>();
  }
  if (c.num_heads % c.num_kv_heads != 0) {
    return Error(fmt::format("architecture: num_heads {} is not a multiple of num_kv_heads {}", c.num_heads,
                             c.num_kv_heads));
  }
  if (c.head_dim == 0 && c.hidden_size % c.num_heads != 0) {
    return Error(fmt::format("architecture: hidden_size {} is not a multiple of num_heads {} (and no head_dim)",
                             c.hidden_size, c.num_heads));
  }
  if (c.resolved_head_dim() % 2 != 0) {
    return Error(fmt::format("architecture.head_dim: RoPE needs an even head size, got {}", c.resolved_head_dim()));
  }
  if (c.rope_scaling == RopeScaling::llama3 &&
      (c.rope_original_max_positions == 0 || c.rope_high_freq_factor <= c.rope_low_freq_factor)) {
    return Error("architecture.rope_scaling: llama3 scaling needs rope_original_max_positions > 0 and "
                 "rope_high_freq_factor > rope_low_freq_factor");
  }
  return c;
}

Result<GenerationConfig> generation_config_from_json(const json& g) {
  constexpr const char* kObj = "generation";
  if (!g.is_object()) return Error("generation: expected an object");
  if (Status s = check_known_keys(g, {"bos_token_id", "eos_token_ids", "add_bos_token", "chat_template",
                                      "temperature", "top_p", "min_p", "top_k", "repetition_penalty",
                                      "do_sample"},
                                  kObj);
      !s)
    return s.error();
  GenerationConfig c;
  if (g.contains("bos_token_id")) {
    const json& v = g["bos_token_id"];
    if (!v.is_number_integer() || v.get<int64_t>() < -1 || v.get<int64_t>() >= int64_t{1} << 31) {
      return Error(fmt::format("generation.bos_token_id: expected a token id or -1, got {}", v.dump()));
    }
    c.bos_token_id = v.get<int64_t>();
  }
  if (g.contains("eos_token_ids")) {
    const json& v = g["eos_token_ids"];
    if (!v.is_array() || v.size() > 64) return Error("generation.eos_token_ids: expected an array of token ids");
    for (const json& id : v) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= int64_t{1} << 31) {
        return Error(fmt::format("generation.eos_token_ids: expected token ids, got {}", id.dump()));
      }
      c.eos_token_ids.push_back(id.get<int64_t>());
    }
  }
  if (Status s = read_bool(g, "add_bos_token", &c.add_bos_token, kObj); !s) return s.error();
  if (Status s = read_bool(g, "do_sample", &c.do_sample, kObj); !s) return s.error();
  if (g.contains("chat_template")) {
    if (!g["chat_template"].is_string()) return Error("generation.chat_template: expected a string");
    c.chat_template = g["chat_template"].get<std::string>();
  }
  if (Status s = read_double(g, "temperature", 0, 100, &c.temperature, kObj); !s) return s.error();
  if (Status s = read_double(g, "top_p", 0, 1, &c.top_p, kObj); !s) return s.error();
  if (Status s = read_double(g, "min_p", 0, 1, &c.min_p, kObj); !s) return s.error();
  if (Status s = read_double(g, "repetition_penalty", 1e-3, 100, &c.repetition_penalty, kObj); !s) return s.error();
  if (Status s = read_uint(g, "top_k", 0, kMaxDim, &c.top_k, kObj); !s) return s.error();
  return c;
}

json to_json(const GenerationConfig& c) {
  return {{"bos_token_id", c.bos_token_id}, {"eos_token_ids", c.eos_token_ids},
          {"add_bos_token", c.add_bos_token}, {"chat_template", c.chat_template},
          {"temperature", c.temperature}, {"top_p", c.top_p}, {"min_p", c.min_p}, {"top_k", c.top_k},
          {"repetition_penalty", c.repetition_penalty}, {"do_sample", c.do_sample}};
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
  json j = {{"name", "llama"}, {"variant", c.variant}, {"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size}, {"num_layers", c.num_layers}, {"num_heads", c.num_heads},
            {"num_kv_heads", c.num_kv_heads}, {"head_dim", c.resolved_head_dim()},
            {"intermediate_size", c.intermediate_size}, {"max_positions", c.max_positions},
            {"rms_norm_eps", c.rms_norm_eps}, {"rope_theta", c.rope_theta}, {"rope_scaling", c.rope_scaling},
            {"attention_bias", c.attention_bias}, {"tie_embeddings", c.tie_embeddings}};
  if (c.rope_scaling == RopeScaling::llama3) {
    j["rope_factor"] = c.rope_factor;
    j["rope_low_freq_factor"] = c.rope_low_freq_factor;
    j["rope_high_freq_factor"] = c.rope_high_freq_factor;
    j["rope_original_max_positions"] = c.rope_original_max_positions;
  }
  return j;
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
  const uint64_t q = c.num_heads * c.resolved_head_dim(), kv = c.num_kv_heads * c.resolved_head_dim();
  std::vector<TensorSpec> t = {{"embeddings.word.weight", {c.vocab_size, h}, TensorRole::embedding}};
  for (uint64_t i = 0; i < c.num_layers; ++i) {
    std::string p = fmt::format("layers.{}.", i);
    t.push_back({p + "attention.norm.weight", {h}, TensorRole::norm});
    // Q, K and V rows stacked (q, then k, then v) so a layer runs one matmul for all three.
    t.push_back({p + "attention.qkv.weight", {q + 2 * kv, h}, TensorRole::linear});
    if (c.attention_bias) t.push_back({p + "attention.qkv.bias", {q + 2 * kv}, TensorRole::bias});
    t.push_back({p + "attention.output.weight", {h, q}, TensorRole::linear});
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
