#include "runtime/convert/hf_checkpoint_discovery.h"

#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <tuple>

#include <fmt/core.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "formats/input_file.h"
#include "runtime/convert/hf_files.h"
#include "runtime/convert/hf_llama_config.h"

namespace sparq::runtime::hf {
namespace {

using nlohmann::json;

struct KnownArchitecture {
  const char* name;
  Family family;
  bool classifier;
};
constexpr KnownArchitecture kArchitectures[] = {
    {"BertModel", Family::bert, false},
    {"BertForSequenceClassification", Family::bert, true},
    {"RobertaModel", Family::roberta, false},
    {"RobertaForSequenceClassification", Family::roberta, true},
    {"DistilBertModel", Family::distilbert, false},
    {"DistilBertForSequenceClassification", Family::distilbert, true},
    // Pre-training checkpoints (bert-base-uncased declares BertForMaskedLM): the body is
    // imported as an embedder and the masked-LM head is left out (listed in the notes).
    {"BertForMaskedLM", Family::bert, false},
    {"BertForPreTraining", Family::bert, false},
    {"RobertaForMaskedLM", Family::roberta, false},
    {"DistilBertForMaskedLM", Family::distilbert, false},
    // Causal LMs of the Llama family: one decoder graph (model_schema.h's LlamaConfig).
    {"LlamaForCausalLM", Family::llama, false},
    {"MistralForCausalLM", Family::llama, false},
    {"Qwen2ForCausalLM", Family::llama, false},
};

// The Hugging Face class: "architectures"[0], or the base model of "model_type".
// sentence-transformers loads the body with AutoModel whatever head class the config
// names, so there the model_type decides.
Status resolve_architecture(const json& c, Checkpoint& m) {
  const std::string& file = m.config_file;
  std::string name;
  const bool by_type = m.sentence_transformers && c.contains("model_type") && c["model_type"].is_string();
  if (c.contains("architectures") && !c["architectures"].is_null() && !by_type) {
    if (!c["architectures"].is_array() || c["architectures"].empty() || !c["architectures"][0].is_string()) {
      return Error(fmt::format("{}: architectures: expected an array of class names", file));
    }
    name = c["architectures"][0].get<std::string>();
  } else {
    auto type = config_string(c, file, "model_type", "");
    if (!type) return type.error();
    if (*type == "bert") name = "BertModel";
    else if (*type == "roberta") name = "RobertaModel";
    else if (*type == "distilbert") name = "DistilBertModel";
    else if (*type == "llama") name = "LlamaForCausalLM";
    else if (*type == "mistral") name = "MistralForCausalLM";
    else if (*type == "qwen2") name = "Qwen2ForCausalLM";
    else if (type->empty()) return Error(fmt::format("{}: neither architectures nor model_type is given", file));
    else return unsupported(file, "model_type", fmt::format("'{}' is not supported (bert, roberta, distilbert, llama, mistral, qwen2 are)", *type));
  }
  for (const KnownArchitecture& a : kArchitectures) {
    if (name == a.name) {
      m.hf_architecture = name;
      m.family = a.family;
      m.classifier = a.classifier;
      return {};
    }
  }
  std::vector<std::string> known;
  for (const KnownArchitecture& a : kArchitectures) known.push_back(a.name);
  return unsupported(file, "architectures[0]",
                     fmt::format("'{}' is not supported (supported: {})", name, fmt::join(known, ", ")));
}

Result<Activation> activation_of(const json& c, const std::string& file, const char* key) {
  auto act = config_string(c, file, key, "gelu");
  if (!act) return act.error();
  if (*act == "gelu") return Activation::gelu;
  if (*act == "gelu_new" || *act == "gelu_pytorch_tanh") return Activation::gelu_tanh;
  return unsupported(file, key, fmt::format("activation '{}' is not supported (gelu, gelu_new, gelu_pytorch_tanh are)", *act));
}

// Hyper-parameters of each family, with Hugging Face's defaults for absent fields.
Status read_hyper_parameters(const json& c, Checkpoint& m) {
  const std::string& file = m.config_file;
  BertConfig& b = m.config;
  auto get = [&](const char* key, uint64_t fallback, uint64_t* out, uint64_t lo = 1) -> Status {
    auto v = config_uint(c, file, key, fallback, lo);
    if (!v) return v.error();
    *out = *v;
    return {};
  };
  if (config_true(c, "is_decoder")) return unsupported(file, "is_decoder", "decoder (causal) BERT models are not supported");
  if (config_true(c, "add_cross_attention")) return unsupported(file, "add_cross_attention", "cross-attention is not supported");

  if (m.family == Family::distilbert) {
    for (auto [key, fallback, out] : {std::tuple{"vocab_size", uint64_t{30522}, &b.vocab_size},
                                      {"dim", uint64_t{768}, &b.hidden_size},
                                      {"n_layers", uint64_t{6}, &b.num_layers},
                                      {"n_heads", uint64_t{12}, &b.num_heads},
                                      {"hidden_dim", uint64_t{3072}, &b.intermediate_size},
                                      {"max_position_embeddings", uint64_t{512}, &b.max_positions}}) {
      if (Status s = get(key, fallback, out); !s) return s;
    }
    auto act = activation_of(c, file, "activation");
    if (!act) return act.error();
    b.activation = *act;
    b.type_vocab_size = 0;
    b.layer_norm_eps = 1e-12;  // DistilBERT's LayerNorms are built with eps=1e-12, not configurable
    b.position_offset = 0;
    if (config_true(c, "sinusoidal_pos_embds")) {
      m.notes.push_back("sinusoidal_pos_embds: the stored position table is imported as it is");
    }
  } else {
    const bool roberta = m.family == Family::roberta;
    for (auto [key, fallback, out] : {std::tuple{"vocab_size", uint64_t{roberta ? 50265u : 30522u}, &b.vocab_size},
                                      {"hidden_size", uint64_t{768}, &b.hidden_size},
                                      {"num_hidden_layers", uint64_t{12}, &b.num_layers},
                                      {"num_attention_heads", uint64_t{12}, &b.num_heads},
                                      {"intermediate_size", uint64_t{3072}, &b.intermediate_size},
                                      {"max_position_embeddings", uint64_t{512}, &b.max_positions}}) {
      if (Status s = get(key, fallback, out); !s) return s;
    }
    if (Status s = get("type_vocab_size", 2, &b.type_vocab_size, 0); !s) return s;
    auto pos = config_string(c, file, "position_embedding_type", "absolute");
    if (!pos) return pos.error();
    if (*pos != "absolute") {
      return unsupported(file, "position_embedding_type", fmt::format("'{}' is not supported (absolute is)", *pos));
    }
    auto act = activation_of(c, file, "hidden_act");
    if (!act) return act.error();
    b.activation = *act;
    b.layer_norm_eps = 1e-12;
    if (c.contains("layer_norm_eps")) {
      if (!c["layer_norm_eps"].is_number() || !(c["layer_norm_eps"].get<double>() > 0) ||
          c["layer_norm_eps"].get<double>() > 1) {
        return Error(fmt::format("{}: layer_norm_eps: expected a number in (0, 1]", file));
      }
      b.layer_norm_eps = c["layer_norm_eps"].get<double>();
    }
    b.position_offset = 0;
    if (roberta) {
      // RoBERTa numbers positions from padding_idx + 1.
      auto pad = config_uint(c, file, "pad_token_id", 1, 0);
      if (!pad) return pad.error();
      b.position_offset = *pad + 1;
      if (b.position_offset >= b.max_positions) {
        return Error(fmt::format("{}: pad_token_id: {} leaves no positions of max_position_embeddings {}", file, *pad,
                                 b.max_positions));
      }
    }
  }
  if (b.hidden_size % b.num_heads != 0) {
    return Error(fmt::format("{}: hidden size {} is not a multiple of the {} attention heads", file, b.hidden_size,
                             b.num_heads));
  }
  return {};
}

// Class names from id2label (ordered by id, which must run 0..n-1) and the label count.
Status read_labels(const json& c, Checkpoint& m) {
  const std::string& file = m.config_file;
  if (!m.classifier) {
    m.config.num_labels = 0;
    return {};
  }
  auto problem = config_string(c, file, "problem_type", "single_label_classification");
  if (!problem) return problem.error();
  if (*problem != "single_label_classification") {
    return unsupported(file, "problem_type",
                       fmt::format("'{}' is not supported (single_label_classification is: softmax over labels)", *problem));
  }
  std::optional<uint64_t> declared;
  if (c.contains("num_labels") && !c["num_labels"].is_null()) {
    auto n = config_uint(c, file, "num_labels", 2);
    if (!n) return n.error();
    declared = *n;
  }
  if (c.contains("id2label") && !c["id2label"].is_null()) {
    const json& map = c["id2label"];
    if (!map.is_object() || map.empty()) return Error(fmt::format("{}: id2label: expected an object of names", file));
    std::vector<std::optional<std::string>> names(map.size());
    for (auto it = map.begin(); it != map.end(); ++it) {
      size_t id = 0, used = 0;
      try {
        id = std::stoul(it.key(), &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != it.key().size() || id >= names.size() || names[id] || !it.value().is_string()) {
        return Error(fmt::format("{}: id2label.{}: ids must run 0..{} with string names", file, it.key(),
                                 names.size() - 1));
      }
      names[id] = it.value().get<std::string>();
    }
    for (auto& n : names) m.labels.push_back(*n);
    // Scores are keyed by name: two ids with one name would collapse into one score.
    std::map<std::string, size_t> first_id;
    for (size_t id = 0; id < m.labels.size(); ++id) {
      if (auto [it, fresh] = first_id.emplace(m.labels[id], id); !fresh) {
        return Error(fmt::format("{}: id2label: ids {} and {} both name '{}'; label names must be distinct", file,
                                 it->second, id, m.labels[id]));
      }
    }
    if (declared && *declared != m.labels.size()) {
      return Error(fmt::format("{}: num_labels {} disagrees with the {} names of id2label", file, *declared, m.labels.size()));
    }
  }
  m.config.num_labels = !m.labels.empty() ? m.labels.size() : declared.value_or(2);
  if (m.config.num_labels == 1 && !c.contains("problem_type")) {
    // Hugging Face trains a one-output head as regression (MSE), not as a softmax.
    return unsupported(file, "num_labels", "1 output is a regression head; only classification heads are supported");
  }
  return {};
}

// sentence-transformers: modules.json lists Transformer → Pooling → (Normalize); the
// pooling mode comes from the Pooling module's config.json.
Status read_sentence_transformers(Checkpoint& m) {
  const std::string modules_file = join_path(m.root, "modules.json");
  auto modules = formats::load_json_file(modules_file);
  if (!modules) return modules.error();
  m.files_read.push_back(modules_file);
  if (!modules->is_array()) return Error(fmt::format("{}: expected an array of modules", modules_file));
  std::optional<std::string> transformer, pooling;
  bool normalize = false;
  for (size_t i = 0; i < modules->size(); ++i) {
    const json& mod = (*modules)[i];
    const std::string field = fmt::format("[{}].type", i);
    if (!mod.is_object() || !mod.contains("type") || !mod["type"].is_string()) {
      return Error(fmt::format("{}: {}: missing", modules_file, field));
    }
    const std::string type = mod["type"].get<std::string>();
    const std::string path = mod.contains("path") && mod["path"].is_string() ? mod["path"].get<std::string>() : "";
    auto is = [&](const char* kind) { return type.size() >= std::strlen(kind) && type.ends_with(kind); };
    if (is("models.Transformer")) {
      if (transformer || pooling) return unsupported(modules_file, field, "a second Transformer module is not supported");
      transformer = path;
    } else if (is("models.Pooling")) {
      if (!transformer || pooling) return unsupported(modules_file, field, "Pooling must follow one Transformer module");
      pooling = path;
    } else if (is("models.Normalize")) {
      if (!pooling) return unsupported(modules_file, field, "Normalize before Pooling is not supported");
      normalize = true;
    } else {
      return unsupported(modules_file, field, fmt::format("module '{}' is not supported (Transformer, Pooling, Normalize are)", type));
    }
  }
  if (!transformer) return Error(fmt::format("{}: no sentence_transformers.models.Transformer module", modules_file));
  if (!pooling) {
    return unsupported(modules_file, "Pooling", "no Pooling module: token embeddings are not supported, only pooled ones");
  }
  m.model_dir = transformer->empty() ? m.root : join_path(m.root, *transformer);

  const std::string pool_file = join_path(join_path(m.root, *pooling), "config.json");
  auto pool = formats::load_json_file(pool_file);
  if (!pool) return pool.error();
  m.files_read.push_back(pool_file);
  std::vector<Pooling> modes;
  for (auto [key, mode] : {std::pair{"pooling_mode_cls_token", std::optional(Pooling::cls)},
                           {"pooling_mode_mean_tokens", Pooling::mean}, {"pooling_mode_max_tokens", Pooling::max},
                           {"pooling_mode_mean_sqrt_len_tokens", std::nullopt},
                           {"pooling_mode_weightedmean_tokens", std::nullopt}, {"pooling_mode_lasttoken", std::nullopt}}) {
    if (!config_true(*pool, key)) continue;
    if (!mode) return unsupported(pool_file, key, "this pooling mode is not supported (cls, mean, max are)");
    modes.push_back(*mode);
  }
  if (modes.size() != 1) {
    return unsupported(pool_file, "pooling_mode_*",
                       fmt::format("exactly one of cls / mean / max pooling must be true (got {})", modes.size()));
  }
  m.config.pooling = modes[0];
  m.config.normalize = normalize;
  m.config.num_labels = 0;
  m.classifier = false;

  const std::string sbert_file = join_path(m.model_dir, "sentence_bert_config.json");
  if (entry_exists(sbert_file)) {
    auto sbert = formats::load_json_file(sbert_file);
    if (!sbert) return sbert.error();
    m.files_read.push_back(sbert_file);
    if (config_true(*sbert, "do_lower_case")) {
      return unsupported(sbert_file, "do_lower_case", "lowercasing outside the tokenizer is not supported");
    }
    if (sbert->contains("max_seq_length") && (*sbert)["max_seq_length"].is_number_unsigned()) {
      m.st_max_seq_length = (*sbert)["max_seq_length"].get<uint64_t>();
    }
  }
  return {};
}

// The weights: in the model directory, else (sentence-transformers) in the root.
Status open_weights(Checkpoint& m) {
  const auto holds_weights = [](const std::string& dir) {
    return entry_exists(join_path(dir, "model.safetensors")) || entry_exists(join_path(dir, "model.safetensors.index.json"));
  };
  m.weights_dir = holds_weights(m.model_dir) ? m.model_dir : m.root;
  if (!holds_weights(m.weights_dir)) {
    std::string why = entry_exists(join_path(m.model_dir, "pytorch_model.bin"))
                          ? " (pytorch_model.bin is not read: save the model with safe_serialization)"
                          : "";
    return Error(fmt::format("{}: no model.safetensors or model.safetensors.index.json{}", m.model_dir, why));
  }
  auto weights = formats::SafetensorsCheckpoint::open(m.weights_dir);
  if (!weights) return weights.error();
  m.weights = std::move(*weights);
  // The index is read only when there is no single file (SafetensorsCheckpoint::open).
  const std::string index = join_path(m.weights_dir, "model.safetensors.index.json");
  if (entry_exists(index) && !entry_exists(join_path(m.weights_dir, "model.safetensors"))) m.files_read.push_back(index);
  return {};
}

}  // namespace

Result<Checkpoint> discover_checkpoint(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return Error(fmt::format("{}: not a directory", dir));
  Checkpoint m;
  m.root = dir;
  m.model_dir = dir;
  m.sentence_transformers = entry_exists(join_path(dir, "modules.json"));
  if (m.sentence_transformers) {
    if (Status s = read_sentence_transformers(m); !s) return s.error();
  }
  m.config_file = join_path(m.model_dir, "config.json");
  auto config = formats::load_json_file(m.config_file);
  if (!config) return config.error();
  if (!config->is_object()) return Error(fmt::format("{}: expected a JSON object", m.config_file));
  m.files_read.push_back(m.config_file);
  if (Status s = resolve_architecture(*config, m); !s) return s.error();
  if (m.family == Family::llama) {
    if (m.sentence_transformers) return unsupported(m.config_file, "architectures", "a causal LM is not an embedder");
    const std::string variant = m.hf_architecture.starts_with("Mistral") ? "mistral"
                                : m.hf_architecture.starts_with("Qwen2")  ? "qwen2"
                                                                          : "llama";
    auto llama = llama_config_from_hf(*config, m.config_file, variant);
    if (!llama) return llama.error();
    m.llama = *llama;
    if (Status s = open_weights(m); !s) return s.error();
    return m;
  }
  if (Status s = read_hyper_parameters(*config, m); !s) return s.error();
  if (m.sentence_transformers) {
    // The embedder uses the body only, whatever head class the config names.
    m.classifier = false;
    m.config.num_labels = 0;
  } else if (Status s = read_labels(*config, m); !s) {
    return s.error();
  }
  if (Status s = open_weights(m); !s) return s.error();
  return m;
}

}  // namespace sparq::runtime::hf
