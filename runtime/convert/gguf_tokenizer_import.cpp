#include "runtime/convert/gguf_tokenizer_import.h"

#include <fmt/core.h>

#include "runtime/convert/sentencepiece_tokenizer_json.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

// Llama 3's and Qwen2's pre-tokenizer regexes, as their tokenizer.json files spell them: the
// same pattern but for digits (Llama 3 groups up to three, Qwen2 splits each).
constexpr const char* kLlama3Split =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";
constexpr const char* kQwen2Split =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";

// An optional integer key, or `fallback`.
Result<int64_t> optional_id(const formats::GgufFile& f, const char* key, int64_t fallback) {
  if (f.find(key) == nullptr) return fallback;
  auto v = f.get_unsigned(key);
  if (!v) return v.error();
  if (*v >= (uint64_t{1} << 31)) return Error(fmt::format("{}: {}: token id {} is out of range", f.path(), key, *v));
  return int64_t(*v);
}

Result<bool> optional_bool(const formats::GgufFile& f, const char* key, bool fallback) {
  if (f.find(key) == nullptr) return fallback;
  return f.get_bool(key);
}

json split_pre_tokenizer(const char* regex) {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}},
            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
}

Result<json> byte_level_tokenizer(const formats::GgufFile& f, const std::vector<std::string_view>& tokens,
                                  const std::vector<int64_t>& types, const GenerationConfig& g, std::string* kind) {
  auto merges_in = f.get_strings("tokenizer.ggml.merges");
  if (!merges_in) return merges_in.error();
  std::string pre = "default";
  if (f.find("tokenizer.ggml.pre") != nullptr) {
    auto p = f.get_string("tokenizer.ggml.pre");
    if (!p) return p.error();
    pre = std::string(*p);
  }
  json pre_tokenizer, normalizer = nullptr;
  bool ignore_merges = false;
  if (pre == "llama-bpe" || pre == "llama3") {
    pre_tokenizer = split_pre_tokenizer(kLlama3Split);
    ignore_merges = true;  // Llama 3's tokenizer.json sets it: a word in the vocabulary is one token
  } else if (pre == "qwen2") {
    pre_tokenizer = split_pre_tokenizer(kQwen2Split);
    normalizer = {{"type", "NFC"}};
  } else if (pre == "default" || pre == "gpt2" || pre == "gpt-2") {
    pre_tokenizer = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  } else {
    return Error(fmt::format("{}: tokenizer.ggml.pre: pre-tokenizer '{}' is not supported (llama-bpe, llama3, qwen2, "
                             "default, gpt2 are)",
                             f.path(), pre),
                 ErrorKind::unsupported);
  }
  *kind = fmt::format("byte-level-bpe ({})", pre);
  json vocab = json::object(), added = json::array(), merges = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string token(tokens[i]);
    if (!vocab.contains(token)) vocab[token] = i;
    const int64_t type = i < types.size() ? types[i] : 1;
    if (type == int64_t(PieceType::control) || type == int64_t(PieceType::user_defined)) {
      added.push_back({{"id", i}, {"content", token}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                       {"normalized", false}, {"special", type == int64_t(PieceType::control)}});
    }
  }
  for (size_t i = 0; i < merges_in->size(); ++i) {
    const std::string_view m = (*merges_in)[i];
    const size_t space = m.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == m.size() ||
        m.find(' ', space + 1) != std::string_view::npos) {
      return Error(fmt::format("{}: tokenizer.ggml.merges[{}]: expected two tokens separated by one space", f.path(), i));
    }
    merges.push_back(json::array({std::string(m.substr(0, space)), std::string(m.substr(space + 1))}));
  }
  json single = json::array(), specials = json::object();
  if (g.add_bos_token && g.bos_token_id >= 0) {
    const std::string bos(tokens[size_t(g.bos_token_id)]);
    single.push_back({{"SpecialToken", {{"id", bos}, {"type_id", 0}}}});
    specials[bos] = {{"id", bos}, {"ids", {g.bos_token_id}}, {"tokens", {bos}}};
  }
  single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  json pair = single;
  pair.push_back({{"Sequence", {{"id", "B"}, {"type_id", 1}}}});
  return json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", normalizer},
      {"pre_tokenizer", pre_tokenizer},
      {"post_processor",
       {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", ignore_merges},
        {"vocab", vocab},
        {"merges", merges}}},
  };
}

}  // namespace

Result<GgufTokenizerImport> import_gguf_tokenizer(const formats::GgufFile& f) {
  auto model = f.get_string("tokenizer.ggml.model");
  if (!model) return model.error();
  auto tokens = f.get_strings("tokenizer.ggml.tokens");
  if (!tokens) return tokens.error();
  if (tokens->empty()) return Error(fmt::format("{}: tokenizer.ggml.tokens: empty", f.path()));
  std::vector<int64_t> types;
  if (f.find("tokenizer.ggml.token_type") != nullptr) {
    auto t = f.get_integers("tokenizer.ggml.token_type");
    if (!t) return t.error();
    if (t->size() != tokens->size()) {
      return Error(fmt::format("{}: tokenizer.ggml.token_type: {} entries for {} tokens", f.path(), t->size(),
                               tokens->size()));
    }
    types = std::move(*t);
  }
  GgufTokenizerImport out;
  out.tokens = tokens->size();
  const bool sentencepiece = *model == "llama";
  if (!sentencepiece && *model != "gpt2") {
    return Error(fmt::format("{}: tokenizer.ggml.model: '{}' is not supported (llama, gpt2 are)", f.path(), *model),
                 ErrorKind::unsupported);
  }
  GenerationConfig& g = out.generation;
  auto bos = optional_id(f, "tokenizer.ggml.bos_token_id", -1);
  if (!bos) return bos.error();
  auto eos = optional_id(f, "tokenizer.ggml.eos_token_id", -1);
  if (!eos) return eos.error();
  auto eot = optional_id(f, "tokenizer.ggml.eot_token_id", -1);
  if (!eot) return eot.error();
  auto unk = optional_id(f, "tokenizer.ggml.unknown_token_id", sentencepiece ? 0 : -1);
  if (!unk) return unk.error();
  // llama.cpp's defaults: SentencePiece vocabularies prepend BOS, byte-level ones do not.
  auto add_bos = optional_bool(f, "tokenizer.ggml.add_bos_token", sentencepiece);
  if (!add_bos) return add_bos.error();
  auto add_eos = optional_bool(f, "tokenizer.ggml.add_eos_token", false);
  if (!add_eos) return add_eos.error();
  for (auto [id, key] : {std::pair{*bos, "tokenizer.ggml.bos_token_id"}, {*eos, "tokenizer.ggml.eos_token_id"},
                         {*eot, "tokenizer.ggml.eot_token_id"}, {*unk, "tokenizer.ggml.unknown_token_id"}}) {
    if (id >= int64_t(tokens->size())) {
      return Error(fmt::format("{}: {}: token id {} is outside the {} tokens", f.path(), key, id, tokens->size()));
    }
  }
  g.bos_token_id = *bos;
  if (*eos >= 0) g.eos_token_ids.push_back(*eos);
  if (*eot >= 0 && *eot != *eos) g.eos_token_ids.push_back(*eot);
  g.add_bos_token = *add_bos;
  if (f.find("tokenizer.chat_template") != nullptr) {
    auto t = f.get_string("tokenizer.chat_template");
    if (!t) return t.error();
    g.chat_template = std::string(*t);
  }

  if (!sentencepiece) {
    auto tok = byte_level_tokenizer(f, *tokens, types, g, &out.kind);
    if (!tok) return tok.error();
    out.tokenizer = std::move(*tok);
    return out;
  }
  auto scores = f.get_floats("tokenizer.ggml.scores");
  if (!scores) return scores.error();
  if (scores->size() != tokens->size()) {
    return Error(fmt::format("{}: tokenizer.ggml.scores: {} scores for {} tokens", f.path(), scores->size(),
                             tokens->size()));
  }
  std::vector<SentencePiece> pieces(tokens->size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    pieces[i].piece = std::string((*tokens)[i]);
    pieces[i].score = (*scores)[i];
    const int64_t type = types.empty() ? 1 : types[i];
    if (type < 1 || type > 6) {
      return Error(fmt::format("{}: tokenizer.ggml.token_type[{}]: unknown type {}", f.path(), i, type));
    }
    pieces[i].type = static_cast<PieceType>(type);
  }
  out.kind = "sentencepiece-bpe";
  out.tokenizer = sentencepiece_bpe_tokenizer_json(pieces, {.unk = *unk, .bos = *bos, .eos = *eos,
                                                            .add_bos = *add_bos, .add_eos = *add_eos});
  return out;
}

}  // namespace sparq::runtime
