#include "runtime/convert/hf_tensor_mapping.h"

#include <algorithm>
#include <set>

#include <fmt/core.h>
#include <fmt/ranges.h>

namespace sparq::runtime::hf {
namespace {

// The Hugging Face tensors that make up each canonical tensor (Q, K, V for the fused QKV).
using NameMap = std::map<std::string, std::vector<std::string>>;

bool has(const formats::SafetensorsCheckpoint& ck, const std::string& name) { return ck.find(name) != nullptr; }

// Old (TensorFlow-converted) checkpoints name LayerNorm parameters gamma/beta.
std::string resolve_name(const formats::SafetensorsCheckpoint& ck, const std::string& name) {
  if (has(ck, name)) return name;
  for (auto [modern, legacy] : {std::pair{"LayerNorm.weight", "LayerNorm.gamma"}, {"LayerNorm.bias", "LayerNorm.beta"}}) {
    const std::string m = modern;
    if (name.ends_with(m)) {
      std::string alt = name.substr(0, name.size() - m.size()) + legacy;
      if (has(ck, alt)) return alt;
    }
  }
  return name;
}

// The body's prefix ("bert.", "roberta.", "distilbert."): head models save it, bare models
// (and sentence-transformers bodies) do not.
std::string body_prefix(const formats::SafetensorsCheckpoint& ck, Family family) {
  const std::string prefix = family == Family::bert ? "bert." : family == Family::roberta ? "roberta." : "distilbert.";
  if (!has(ck, prefix + "embeddings.word_embeddings.weight") && has(ck, "embeddings.word_embeddings.weight")) return "";
  return prefix;
}

// The pooler, from the tensors present (before the tensor list is fixed).
PoolerHead choose_pooler(const formats::SafetensorsCheckpoint& ck, const std::string& prefix, const Checkpoint& m) {
  if (m.family == Family::distilbert) return m.classifier ? PoolerHead::relu : PoolerHead::none;
  // BertForSequenceClassification always reads the pooler (RoBERTa's head its
  // classifier.dense): then its tensors are required.
  return m.classifier || has(ck, prefix + "pooler.dense.weight") ? PoolerHead::tanh : PoolerHead::none;
}

NameMap hf_names(const Checkpoint& m, const std::string& p) {
  const BertConfig& c = m.config;
  NameMap n;
  auto both = [&](const std::string& canonical, const std::string& hf) {
    n[canonical + ".weight"] = {hf + ".weight"};
    n[canonical + ".bias"] = {hf + ".bias"};
  };
  auto qkv = [&](const std::string& canonical, const std::string& q, const std::string& k, const std::string& v) {
    for (const char* s : {".weight", ".bias"}) n[canonical + s] = {q + s, k + s, v + s};
  };
  n["embeddings.word.weight"] = {p + "embeddings.word_embeddings.weight"};
  n["embeddings.position.weight"] = {p + "embeddings.position_embeddings.weight"};
  n["embeddings.token_type.weight"] = {p + "embeddings.token_type_embeddings.weight"};
  both("embeddings.norm", p + "embeddings.LayerNorm");
  for (uint64_t i = 0; i < c.num_layers; ++i) {
    const std::string l = fmt::format("layers.{}.", i);
    if (m.family == Family::distilbert) {
      const std::string h = fmt::format("{}transformer.layer.{}.", p, i);
      qkv(l + "attention.qkv", h + "attention.q_lin", h + "attention.k_lin", h + "attention.v_lin");
      both(l + "attention.output", h + "attention.out_lin");
      both(l + "attention.norm", h + "sa_layer_norm");
      both(l + "ffn.up", h + "ffn.lin1");
      both(l + "ffn.down", h + "ffn.lin2");
      both(l + "ffn.norm", h + "output_layer_norm");
    } else {
      const std::string h = fmt::format("{}encoder.layer.{}.", p, i);
      qkv(l + "attention.qkv", h + "attention.self.query", h + "attention.self.key", h + "attention.self.value");
      both(l + "attention.output", h + "attention.output.dense");
      both(l + "attention.norm", h + "attention.output.LayerNorm");
      both(l + "ffn.up", h + "intermediate.dense");
      both(l + "ffn.down", h + "output.dense");
      both(l + "ffn.norm", h + "output.LayerNorm");
    }
  }
  switch (m.family) {
    case Family::bert:
      both("pooler", p + "pooler.dense");
      both("classifier", "classifier");
      break;
    case Family::roberta:
      if (m.classifier) {
        both("pooler", "classifier.dense");
        both("classifier", "classifier.out_proj");
      } else {
        both("pooler", p + "pooler.dense");
      }
      break;
    case Family::distilbert:
      both("pooler", "pre_classifier");
      both("classifier", "classifier");
      break;
    case Family::llama:
      break;
  }
  return n;
}

// LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM share these names.
NameMap llama_names(const LlamaConfig& c) {
  NameMap n;
  n["embeddings.word.weight"] = {"model.embed_tokens.weight"};
  for (uint64_t i = 0; i < c.num_layers; ++i) {
    const std::string l = fmt::format("layers.{}.", i), h = fmt::format("model.layers.{}.", i);
    n[l + "attention.norm.weight"] = {h + "input_layernorm.weight"};
    for (const std::string s : {".weight", ".bias"}) {
      n[l + "attention.qkv" + s] = {h + "self_attn.q_proj" + s, h + "self_attn.k_proj" + s, h + "self_attn.v_proj" + s};
    }
    n[l + "attention.output.weight"] = {h + "self_attn.o_proj.weight"};
    n[l + "ffn.norm.weight"] = {h + "post_attention_layernorm.weight"};
    n[l + "ffn.gate.weight"] = {h + "mlp.gate_proj.weight"};
    n[l + "ffn.up.weight"] = {h + "mlp.up_proj.weight"};
    n[l + "ffn.down.weight"] = {h + "mlp.down_proj.weight"};
  }
  n["norm.weight"] = {"model.norm.weight"};
  n["lm_head.weight"] = {"lm_head.weight"};
  return n;
}

// Rows each source tensor contributes to a canonical one: an equal share, except Q, K and V
// of a decoder with fewer KV heads than query heads.
uint64_t source_rows(const TensorSpec& spec, size_t index, size_t sources, const Checkpoint& m) {
  if (m.family != Family::llama || sources != 3) return spec.dims[0] / sources;
  const uint64_t d = m.llama.resolved_head_dim();
  return index == 0 ? m.llama.num_heads * d : m.llama.num_kv_heads * d;
}

// Every canonical tensor's sources must exist with the shape the config implies; checkpoint
// tensors nothing uses become a note.
Status check_sources(const Checkpoint& m, TensorMapping& out) {
  const formats::SafetensorsCheckpoint& ck = *m.weights;
  std::vector<std::string> missing;
  std::set<std::string> used;
  for (const TensorSpec& spec : out.specs) {
    std::vector<std::string>& sources = out.sources.at(spec.name);
    for (size_t i = 0; i < sources.size(); ++i) {
      std::string& src = sources[i];
      src = resolve_name(ck, src);
      if (!has(ck, src)) {
        missing.push_back(src);
        continue;
      }
      used.insert(src);
      std::vector<uint64_t> expect = spec.dims;
      expect[0] = source_rows(spec, i, sources.size(), m);
      const formats::SafetensorsTensor& t = *ck.find(src);
      if (t.shape != expect) {
        return Error(fmt::format("{}: tensor '{}': shape [{}], but {} implies [{}] (for '{}')", t.file, src,
                                 fmt::join(t.shape, ", "), m.config_file, fmt::join(expect, ", "), spec.name));
      }
    }
  }
  if (!missing.empty()) {
    const size_t shown = std::min<size_t>(missing.size(), 8);
    return Error(fmt::format("{}: {} tensor(s) {} needs are missing: {}{}", m.weights_dir, missing.size(),
                             m.hf_architecture, fmt::join(missing.begin(), missing.begin() + shown, ", "),
                             missing.size() > shown ? ", ..." : ""));
  }
  std::vector<std::string> unused;
  for (const auto& [name, t] : ck.tensors()) {
    if (!used.count(name)) unused.push_back(name);
  }
  if (!unused.empty()) {
    out.notes.push_back(fmt::format("{} checkpoint tensor(s) not used by {}: {}", unused.size(), m.hf_architecture,
                                    fmt::join(unused, ", ")));
  }
  return {};
}

}  // namespace

Result<TensorMapping> map_tensors(const Checkpoint& m) {
  const formats::SafetensorsCheckpoint& ck = *m.weights;
  if (m.family == Family::llama) {
    TensorMapping out;
    out.specs = llama_tensors(m.llama);
    out.sources = llama_names(m.llama);
    if (Status s = check_sources(m, out); !s) return s.error();
    return out;
  }
  const std::string prefix = body_prefix(ck, m.family);
  TensorMapping out;
  out.config = m.config;
  out.config.pooler = choose_pooler(ck, prefix, m);
  // A sentence-transformers model's Pooling module has decided the pooling already.
  if (!m.sentence_transformers) {
    out.config.pooling = m.classifier && out.config.pooler != PoolerHead::none ? Pooling::pooler : Pooling::cls;
  }
  // The architecture object must be one the encoder loader accepts.
  if (auto checked = bert_config_from_json(to_json(out.config)); !checked) {
    return checked.error().within(m.config_file);
  }

  out.specs = bert_tensors(out.config);
  out.sources = hf_names(m, prefix);
  if (Status s = check_sources(m, out); !s) return s.error();
  return out;
}

}  // namespace sparq::runtime::hf
