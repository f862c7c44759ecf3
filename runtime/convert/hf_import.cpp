#include "runtime/convert/hf_import.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "formats/encoding_spec.h"
#include "formats/safetensors.h"
#include "formats/sha256_file.h"
#include "formats/sparq_writer.h"
#include "runtime/model/model_schema.h"
#include "runtime/text/tokenizer.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------
// Files and fields

std::string join_path(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

bool file_exists(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

Result<json> read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(fmt::format("{}: cannot open", path));
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    return Error(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
}

// A config.json field: integer in [lo, hi], or `fallback` (Hugging Face's default) when absent.
Result<uint64_t> config_uint(const json& c, const std::string& file, const char* key, uint64_t fallback,
                             uint64_t lo = 1, uint64_t hi = uint64_t{1} << 24) {
  if (!c.contains(key) || c[key].is_null()) return fallback;
  const json& v = c[key];
  if (!v.is_number_integer() || v.get<int64_t>() < static_cast<int64_t>(lo) || v.get<uint64_t>() > hi) {
    return Error(fmt::format("{}: {}: expected an integer in [{}, {}], got {}", file, key, lo, hi, v.dump()));
  }
  return v.get<uint64_t>();
}

Result<std::string> config_string(const json& c, const std::string& file, const char* key, const char* fallback) {
  if (!c.contains(key) || c[key].is_null()) return std::string(fallback);
  if (!c[key].is_string()) return Error(fmt::format("{}: {}: expected a string, got {}", file, key, c[key].dump()));
  return c[key].get<std::string>();
}

bool config_true(const json& c, const char* key) { return c.contains(key) && c[key].is_boolean() && c[key].get<bool>(); }

Error unsupported(const std::string& file, const std::string& field, const std::string& why) {
  return Error(fmt::format("{}: {}: {}", file, field, why), ErrorKind::unsupported);
}

// ---------------------------------------------------------------------------------------
// The model: which Hugging Face class, its hyper-parameters, and where its files are

enum class Family { bert, roberta, distilbert };

struct HfModel {
  std::string root;             // the directory given
  std::string model_dir;        // config.json, weights (sentence-transformers: the Transformer module)
  std::string config_file;
  std::string hf_architecture;
  Family family = Family::bert;
  bool classifier = false;
  BertConfig config;
  std::vector<std::string> labels;
  std::vector<std::string> files_read;  // besides the weights, for the provenance
  std::optional<uint64_t> st_max_seq_length;
  std::vector<std::string> notes;
};

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
};

// The Hugging Face class: "architectures"[0], or the base model of "model_type".
// sentence-transformers loads the body with AutoModel whatever head class the config
// names, so there the model_type decides.
Status resolve_architecture(const json& c, bool sentence_transformers, HfModel& m) {
  const std::string& file = m.config_file;
  std::string name;
  const bool by_type = sentence_transformers && c.contains("model_type") && c["model_type"].is_string();
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
    else if (type->empty()) return Error(fmt::format("{}: neither architectures nor model_type is given", file));
    else return unsupported(file, "model_type", fmt::format("'{}' is not supported (bert, roberta, distilbert are)", *type));
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

Result<std::string> activation_of(const json& c, const std::string& file, const char* key) {
  auto act = config_string(c, file, key, "gelu");
  if (!act) return act.error();
  if (*act == "gelu") return std::string("gelu");
  if (*act == "gelu_new" || *act == "gelu_pytorch_tanh") return std::string("gelu_tanh");
  return unsupported(file, key, fmt::format("activation '{}' is not supported (gelu, gelu_new, gelu_pytorch_tanh are)", *act));
}

// Hyper-parameters of each family, with Hugging Face's defaults for absent fields.
Status read_hyper_parameters(const json& c, HfModel& m) {
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
Status read_labels(const json& c, HfModel& m) {
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
Status read_sentence_transformers(HfModel& m) {
  const std::string modules_file = join_path(m.root, "modules.json");
  auto modules = read_json_file(modules_file);
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
  auto pool = read_json_file(pool_file);
  if (!pool) return pool.error();
  m.files_read.push_back(pool_file);
  std::vector<std::string> modes;
  for (auto [key, mode] : {std::pair{"pooling_mode_cls_token", "cls"}, {"pooling_mode_mean_tokens", "mean"},
                           {"pooling_mode_max_tokens", "max"}, {"pooling_mode_mean_sqrt_len_tokens", ""},
                           {"pooling_mode_weightedmean_tokens", ""}, {"pooling_mode_lasttoken", ""}}) {
    if (!config_true(*pool, key)) continue;
    if (*mode == '\0') return unsupported(pool_file, key, "this pooling mode is not supported (cls, mean, max are)");
    modes.push_back(mode);
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
  if (file_exists(sbert_file)) {
    auto sbert = read_json_file(sbert_file);
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

// ---------------------------------------------------------------------------------------
// Tensor names: canonical (model_schema.h) -> Hugging Face

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

// Decides the pooler from the tensors present (before the tensor list is fixed).
void choose_pooler(const formats::SafetensorsCheckpoint& ck, const std::string& prefix, HfModel& m) {
  BertConfig& c = m.config;
  switch (m.family) {
    case Family::bert:
      // BertForSequenceClassification always reads the pooler: its tensors are required.
      c.pooler = m.classifier || has(ck, prefix + "pooler.dense.weight") ? "tanh" : "none";
      break;
    case Family::roberta:
      c.pooler = m.classifier || has(ck, prefix + "pooler.dense.weight") ? "tanh" : "none";
      break;
    case Family::distilbert:
      c.pooler = m.classifier ? "relu" : "none";
      break;
  }
}

NameMap hf_names(const HfModel& m, const std::string& p) {
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
  }
  return n;
}

// ---------------------------------------------------------------------------------------
// Encodings

bool is_dense(formats::Encoding e) { return e != formats::Encoding::csr && e != formats::Encoding::bsr; }

// ---------------------------------------------------------------------------------------
// Tokenizer

// The tokenizer.json object (copied, or built from vocab.txt) and the files it came from.
Result<json> load_tokenizer(const HfModel& m, std::vector<std::string>* files, json* tokenizer_config) {
  std::vector<std::string> dirs = {m.model_dir};
  if (m.root != m.model_dir) dirs.push_back(m.root);
  for (const std::string& dir : dirs) {
    const std::string config_file = join_path(dir, "tokenizer_config.json");
    if (file_exists(config_file)) {
      auto c = read_json_file(config_file);
      if (!c) return c.error();
      if (!c->is_object()) return Error(fmt::format("{}: expected a JSON object", config_file));
      *tokenizer_config = *c;
      files->push_back(config_file);
    }
    const std::string tok_file = join_path(dir, "tokenizer.json");
    if (file_exists(tok_file)) {
      auto t = read_json_file(tok_file);
      if (!t) return t.error();
      if (!t->is_object() || !t->contains("model")) {
        return Error(fmt::format("{}: expected a tokenizer.json object with a \"model\"", tok_file));
      }
      files->push_back(tok_file);
      return t;
    }
    const std::string vocab_file = join_path(dir, "vocab.txt");
    if (file_exists(vocab_file)) {
      auto t = Tokenizer::json_from_wordpiece_vocab(vocab_file, *tokenizer_config);
      if (!t) return t.error();
      files->push_back(vocab_file);
      return t;
    }
    if (!tokenizer_config->is_null()) break;  // the config belongs with the tokenizer beside it
  }
  return Error(fmt::format("{}: no tokenizer: neither tokenizer.json nor vocab.txt is there", m.model_dir));
}

// The largest id the tokenizer can produce (model vocabulary and added tokens).
int64_t max_token_id(const json& tok) {
  int64_t max_id = -1;
  const json& vocab = tok["model"].contains("vocab") ? tok["model"]["vocab"] : json();
  if (vocab.is_object()) {
    for (const auto& v : vocab) {
      if (v.is_number_integer()) max_id = std::max(max_id, v.get<int64_t>());
    }
  } else if (vocab.is_array()) {  // Unigram: [[piece, score], ...]
    max_id = static_cast<int64_t>(vocab.size()) - 1;
  }
  if (tok.contains("added_tokens") && tok["added_tokens"].is_array()) {
    for (const auto& t : tok["added_tokens"]) {
      if (t.is_object() && t.contains("id") && t["id"].is_number_integer()) {
        max_id = std::max(max_id, t["id"].get<int64_t>());
      }
    }
  }
  return max_id;
}

// ---------------------------------------------------------------------------------------

Status check_options(const HfImportOptions& o) {
  using formats::Encoding;
  if (!is_dense(o.weights.encoding)) {
    return Error("--weights: give a dense encoding (f32, f16, bf16, q8, q4); zeros already in the checkpoint are kept "
                 "sparse automatically",
                 ErrorKind::invalid_argument);
  }
  if (o.embeddings.encoding == Encoding::q4 || !is_dense(o.embeddings.encoding)) {
    return Error("--embeddings: expected f32, f16, bf16 or q8", ErrorKind::invalid_argument);
  }
  return {};
}

}  // namespace

Result<HfImportSummary> import_hf_checkpoint(const std::string& dir, const HfImportOptions& options,
                                             const std::string& out_path) {
  if (Status s = check_options(options); !s) return s.error();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Error(fmt::format("{}: not a directory", dir));

  HfModel m;
  m.root = dir;
  m.model_dir = dir;
  const bool sentence_transformers = file_exists(join_path(dir, "modules.json"));
  if (sentence_transformers) {
    if (Status s = read_sentence_transformers(m); !s) return s.error();
  }
  m.config_file = join_path(m.model_dir, "config.json");
  auto config = read_json_file(m.config_file);
  if (!config) return config.error();
  if (!config->is_object()) return Error(fmt::format("{}: expected a JSON object", m.config_file));
  m.files_read.push_back(m.config_file);
  const std::string st_pooling = m.config.pooling;
  const bool st_normalize = m.config.normalize;
  if (Status s = resolve_architecture(*config, sentence_transformers, m); !s) return s.error();
  if (Status s = read_hyper_parameters(*config, m); !s) return s.error();
  if (sentence_transformers) {
    // The embedder uses the body only, whatever head class the config names.
    m.classifier = false;
    m.config.num_labels = 0;
  } else if (Status s = read_labels(*config, m); !s) {
    return s.error();
  }

  // Weights: the model directory, else (sentence-transformers) the root.
  std::string weights_dir = m.model_dir;
  if (!file_exists(join_path(weights_dir, "model.safetensors")) &&
      !file_exists(join_path(weights_dir, "model.safetensors.index.json"))) {
    weights_dir = m.root;
  }
  if (!file_exists(join_path(weights_dir, "model.safetensors")) &&
      !file_exists(join_path(weights_dir, "model.safetensors.index.json"))) {
    std::string why = file_exists(join_path(m.model_dir, "pytorch_model.bin"))
                          ? " (pytorch_model.bin is not read: save the model with safe_serialization)"
                          : "";
    return Error(fmt::format("{}: no model.safetensors or model.safetensors.index.json{}", m.model_dir, why));
  }
  auto ckpt = formats::SafetensorsCheckpoint::open(weights_dir);
  if (!ckpt) return ckpt.error();
  const formats::SafetensorsCheckpoint& ck = **ckpt;
  if (file_exists(join_path(weights_dir, "model.safetensors.index.json")) &&
      !file_exists(join_path(weights_dir, "model.safetensors"))) {
    m.files_read.push_back(join_path(weights_dir, "model.safetensors.index.json"));
  }

  const std::string prefix = body_prefix(ck, m.family);
  choose_pooler(ck, prefix, m);
  if (sentence_transformers) {
    m.config.pooling = st_pooling;
    m.config.normalize = st_normalize;
  } else {
    m.config.pooling = m.classifier && m.config.pooler != "none" ? "pooler" : "cls";
  }

  // The architecture object must be one the encoder loader accepts.
  if (auto checked = bert_config_from_json(to_json(m.config)); !checked) {
    return checked.error().within(m.config_file);
  }

  // Every canonical tensor's sources must exist with the shape the config implies.
  const std::vector<TensorSpec> specs = bert_tensors(m.config);
  NameMap names = hf_names(m, prefix);
  std::vector<std::string> missing;
  std::set<std::string> used;
  for (const TensorSpec& spec : specs) {
    std::vector<std::string>& sources = names.at(spec.name);
    for (std::string& src : sources) {
      src = resolve_name(ck, src);
      if (!has(ck, src)) {
        missing.push_back(src);
        continue;
      }
      used.insert(src);
      std::vector<uint64_t> expect = spec.dims;
      expect[0] /= sources.size();
      const formats::SafetensorsTensor& t = *ck.find(src);
      if (t.shape != expect) {
        return Error(fmt::format("{}: tensor '{}': shape [{}], but {} implies [{}] (for '{}')", t.file, src,
                                 fmt::join(t.shape, ", "), m.config_file, fmt::join(expect, ", "), spec.name));
      }
    }
  }
  if (!missing.empty()) {
    const size_t shown = std::min<size_t>(missing.size(), 8);
    return Error(fmt::format("{}: {} tensor(s) {} needs are missing: {}{}", weights_dir, missing.size(),
                             m.hf_architecture, fmt::join(missing.begin(), missing.begin() + shown, ", "),
                             missing.size() > shown ? ", ..." : ""));
  }
  std::vector<std::string> unused;
  for (const auto& [name, t] : ck.tensors()) {
    if (!used.count(name)) unused.push_back(name);
  }
  if (!unused.empty()) {
    m.notes.push_back(fmt::format("{} checkpoint tensor(s) not used by {}: {}", unused.size(), m.hf_architecture,
                                  fmt::join(unused, ", ")));
  }

  // Tokenizer, and the truncation length it runs with.
  std::vector<std::string> tokenizer_files;
  json tokenizer_config;
  auto tokenizer = load_tokenizer(m, &tokenizer_files, &tokenizer_config);
  if (!tokenizer) return tokenizer.error();
  if (int64_t top = max_token_id(*tokenizer); top >= static_cast<int64_t>(m.config.vocab_size)) {
    return Error(fmt::format("{}: the tokenizer produces ids up to {} but {} vocab_size is {}", tokenizer_files.back(),
                             top, m.config_file, m.config.vocab_size));
  }
  m.files_read.insert(m.files_read.end(), tokenizer_files.begin(), tokenizer_files.end());
  const uint64_t positions = m.config.max_positions - m.config.position_offset;
  uint64_t max_tokens = positions;
  auto sane = [&](uint64_t n) { return n >= 2 && n <= positions; };
  if (m.st_max_seq_length && sane(*m.st_max_seq_length)) {
    max_tokens = *m.st_max_seq_length;
  } else if (tokenizer_config.is_object() && tokenizer_config.contains("model_max_length") &&
             tokenizer_config["model_max_length"].is_number_unsigned() &&
             sane(tokenizer_config["model_max_length"].get<uint64_t>())) {
    max_tokens = tokenizer_config["model_max_length"].get<uint64_t>();
  }

  // Weights, each canonical tensor read from the checkpoint tensors stacked into it.
  std::vector<SourceTensor> tensors;
  for (const TensorSpec& spec : specs) {
    const std::vector<std::string>& sources = names.at(spec.name);
    SourceTensor t;
    t.name = spec.name;
    t.dims = spec.dims;
    t.linear = spec.role == TensorRole::linear;
    if (spec.role == TensorRole::linear) t.encoding = options.weights;
    if (spec.role == TensorRole::embedding) t.encoding = options.embeddings;
    t.read = [&ck, &sources, &spec]() -> Result<std::vector<float>> {
      std::vector<float> values;
      values.reserve(spec.dims.size() == 1 ? spec.dims[0] : spec.dims[0] * spec.dims[1]);
      for (const std::string& src : sources) {
        auto part = ck.read_f32(src);
        if (!part) return part.error();
        values.insert(values.end(), part->begin(), part->end());
      }
      return values;
    };
    t.origin = fmt::format("{}: tensor '{}' (from {})", ck.find(sources[0])->file, spec.name, fmt::join(sources, ", "));
    tensors.push_back(std::move(t));
  }
  auto writer = formats::SparqWriter::create(out_path);
  if (!writer) return writer.error();
  EncodeAndWriteOptions stage;
  stage.recipe = options.recipe;
  stage.keep_sparse = options.keep_sparse;
  stage.compress = options.compress;
  stage.on_tensor = options.on_tensor;
  auto written = encode_and_write(tensors, stage, **writer);
  if (!written) return written.error();
  HfImportSummary summary;
  summary.hf_architecture = m.hf_architecture;
  summary.architecture = to_json(m.config);
  summary.labels = m.labels;
  summary.max_tokens = max_tokens;
  summary.tensors = std::move(written->tensors);
  summary.compressed = std::move(written->compressed);
  summary.parameters = written->parameters;

  // Provenance: every file read, hashed.
  json sources = json::array();
  std::vector<std::string> all_files = m.files_read;
  for (const std::string& f : ck.files()) all_files.push_back(f);
  for (const std::string& f : ck.files()) {
    std::error_code size_ec;
    summary.source_bytes += fs::file_size(f, size_ec);
  }
  for (const std::string& f : all_files) {
    uint64_t bytes = 0;
    auto sha = formats::sha256_file(f, &bytes);
    if (!sha) return sha.error();
    sources.push_back({{"path", f}, {"sha256", *sha}, {"bytes", bytes}});
  }
  summary.notes = m.notes;
  json meta = {
      {"architecture", summary.architecture},
      {"tokenizer", *tokenizer},
      {"max_tokens", max_tokens},
      {"provenance",
       {{"tool", "sparq convert"},
        {"command_line", options.command_line},
        {"sources", sources},
        {"conversion",
         {{"from", "hf"},
          {"hf_architecture", m.hf_architecture},
          {"sentence_transformers", sentence_transformers},
          {"weights", formats::encode_options_string(options.weights)},
          {"embeddings", formats::encode_options_string(options.embeddings)},
          {"keep_sparse", options.keep_sparse},
          {"compress", options.compress}}},
        {"notes", m.notes}}},
  };
  if (!m.labels.empty()) meta["labels"] = m.labels;
  if (options.recipe != nullptr) meta["compression"] = compression_metadata(*options.recipe, summary.compressed);
  if (Status s = (*writer)->finish(meta); !s) return s.error();
  summary.file_bytes = (*writer)->bytes_written();

  return summary;
}

}  // namespace sparq::runtime
