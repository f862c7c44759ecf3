// A tokenizer.json object for checkpoints that ship only a BERT vocab.txt: the same object
// Hugging Face's BertTokenizerFast builds when it converts the slow BertTokenizer
// (BertNormalizer + BertPreTokenizer + WordPiece, "[CLS] $A [SEP]" templates).
#include <fmt/core.h>

#include <fstream>
#include <map>
#include <sstream>

#include "formats/utf8.h"
#include "runtime/text/tokenizer.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

// Python's text-mode readlines() + rstrip("\n"), as BERT's load_vocab does: "\r\n", "\r"
// and "\n" all end a line; the last line needs no terminator.
std::vector<std::string> read_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string cur;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      lines.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) lines.push_back(std::move(cur));
  return lines;
}

// A special token in tokenizer_config.json is a string or an AddedToken object
// {"content": ...}; absent or null means the BERT default.
Result<std::string> special_token(const json& config, const char* key, const char* fallback) {
  if (!config.is_object() || !config.contains(key) || config[key].is_null()) return std::string(fallback);
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return Error(fmt::format("tokenizer_config.json: {}: expected a string or {{\"content\": ...}}", key));
}

Result<bool> flag(const json& config, const char* key, bool fallback) {
  if (!config.is_object() || !config.contains(key) || config[key].is_null()) return fallback;
  if (!config[key].is_boolean()) return Error(fmt::format("tokenizer_config.json: {}: expected true or false", key));
  return config[key].get<bool>();
}

json added_token(int64_t id, const std::string& content, bool special, bool normalized, bool lstrip, bool rstrip,
                 bool single_word) {
  return {{"id", id}, {"content", content}, {"single_word", single_word}, {"lstrip", lstrip},
          {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
}

}  // namespace

Result<json> Tokenizer::json_from_wordpiece_vocab(const std::string& vocab_txt_path, const json& config) {
  std::ifstream in(vocab_txt_path, std::ios::binary);
  if (!in) return Error(fmt::format("{}: cannot open", vocab_txt_path));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  if (size_t bad = formats::find_invalid_utf8(text); bad != std::string::npos) {
    return Error(fmt::format("{}: invalid UTF-8 at byte {}", vocab_txt_path, bad));
  }
  if (!config.is_null() && !config.is_object()) return Error("tokenizer_config.json: expected a JSON object");
  auto fail = [&](const Error& e) { return e.within(vocab_txt_path); };

  if (config.is_object() && config.contains("tokenizer_class")) {
    const json& cls = config["tokenizer_class"];
    const std::string name = cls.is_string() ? cls.get<std::string>() : cls.dump();
    if (name.find("BertTokenizer") == std::string::npos) {
      return Error(fmt::format("tokenizer_config.json: tokenizer_class: '{}' cannot be built from vocab.txt "
                               "(BERT-style WordPiece tokenizers only; supply tokenizer.json)", name),
                   ErrorKind::unsupported);
    }
  }
  auto basic = flag(config, "do_basic_tokenize", true);
  if (!basic) return fail(basic.error());
  if (!*basic) {
    return Error("tokenizer_config.json: do_basic_tokenize: false is not supported (the BERT pre-tokenizer always "
                 "runs in a converted tokenizer)",
                 ErrorKind::unsupported);
  }
  auto lower = flag(config, "do_lower_case", true);
  if (!lower) return fail(lower.error());
  auto chinese = flag(config, "tokenize_chinese_chars", true);
  if (!chinese) return fail(chinese.error());
  json strip_accents = nullptr;  // null: follow lowercase, as BertNormalizer does
  if (config.is_object() && config.contains("strip_accents") && !config["strip_accents"].is_null()) {
    if (!config["strip_accents"].is_boolean()) {
      return Error("tokenizer_config.json: strip_accents: expected true, false or null");
    }
    strip_accents = config["strip_accents"].get<bool>();
  }

  // Later duplicates win, as in the Python dict BERT's load_vocab builds.
  json vocab = json::object();
  std::map<std::string, int64_t> ids;
  std::vector<std::string> lines = read_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) ids[lines[i]] = static_cast<int64_t>(i);
  if (ids.empty()) return Error(fmt::format("{}: empty vocabulary", vocab_txt_path));
  int64_t next_id = static_cast<int64_t>(lines.size());

  std::map<std::string, std::string> specials;
  for (auto [key, fallback] : {std::pair{"unk_token", "[UNK]"}, {"sep_token", "[SEP]"}, {"pad_token", "[PAD]"},
                               {"cls_token", "[CLS]"}, {"mask_token", "[MASK]"}}) {
    auto token = special_token(config, key, fallback);
    if (!token) return token.error();
    specials[key] = *token;
  }
  if (!ids.count(specials["unk_token"])) {
    return Error(fmt::format("{}: the unknown token '{}' is not in the vocabulary", vocab_txt_path,
                             specials["unk_token"]));
  }

  // Added tokens, by id: the table a recent tokenizer_config.json carries
  // (added_tokens_decoder), else the special tokens (plus additional_special_tokens) as
  // transformers registers them: special, not normalized. A special token missing from the
  // vocabulary gets the next free id, as transformers appends it.
  std::map<int64_t, json> added;
  if (config.is_object() && config.contains("added_tokens_decoder") && config["added_tokens_decoder"].is_object()) {
    for (auto it = config["added_tokens_decoder"].begin(); it != config["added_tokens_decoder"].end(); ++it) {
      const json& t = it.value();
      int64_t id = -1;
      try {
        size_t used = 0;
        id = std::stoll(it.key(), &used);
        if (used != it.key().size()) id = -1;
      } catch (const std::exception&) {
        id = -1;
      }
      if (id < 0 || !t.is_object() || !t.contains("content") || !t["content"].is_string()) {
        return Error(fmt::format("tokenizer_config.json: added_tokens_decoder.{}: expected an id and an object "
                                 "with \"content\"", it.key()));
      }
      const std::string content = t["content"].get<std::string>();
      added[id] = added_token(id, content, t.value("special", false), t.value("normalized", false),
                              t.value("lstrip", false), t.value("rstrip", false), t.value("single_word", false));
      ids.try_emplace(content, id);
      next_id = std::max(next_id, id + 1);
    }
  } else {
    std::vector<std::string> names = {specials["pad_token"], specials["unk_token"], specials["cls_token"],
                                      specials["sep_token"], specials["mask_token"]};
    if (config.is_object() && config.contains("additional_special_tokens") &&
        config["additional_special_tokens"].is_array()) {
      for (const json& t : config["additional_special_tokens"]) {
        if (t.is_string()) names.push_back(t.get<std::string>());
        else if (t.is_object() && t.contains("content") && t["content"].is_string()) names.push_back(t["content"].get<std::string>());
      }
    }
    for (const std::string& name : names) {
      auto [it, inserted] = ids.try_emplace(name, next_id);
      if (inserted) ++next_id;
      added[it->second] = added_token(it->second, name, true, false, false, false, false);
    }
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    if (ids[lines[i]] == static_cast<int64_t>(i)) vocab[lines[i]] = i;
  }
  json added_tokens = json::array();
  for (auto& [id, t] : added) added_tokens.push_back(std::move(t));

  const std::string cls = specials["cls_token"], sep = specials["sep_token"];
  for (const std::string* t : {&cls, &sep}) {
    if (!ids.count(*t)) return Error(fmt::format("{}: special token '{}' has no id", vocab_txt_path, *t));
  }
  auto special = [](const std::string& id, int type_id) {
    return json{{"SpecialToken", {{"id", id}, {"type_id", type_id}}}};
  };
  auto sequence = [](const char* id, int type_id) { return json{{"Sequence", {{"id", id}, {"type_id", type_id}}}}; };
  json special_tokens = json::object();
  for (const std::string& t : {cls, sep}) {
    special_tokens[t] = {{"id", t}, {"ids", {ids[t]}}, {"tokens", {t}}};
  }

  return json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added_tokens},
      {"normalizer",
       {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", *chinese},
        {"strip_accents", strip_accents}, {"lowercase", *lower}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {special(cls, 0), sequence("A", 0), special(sep, 0)}},
        {"pair", {special(cls, 0), sequence("A", 0), special(sep, 0), sequence("B", 1), special(sep, 1)}},
        {"special_tokens", special_tokens}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
      {"model",
       {{"type", "WordPiece"}, {"unk_token", specials["unk_token"]}, {"continuing_subword_prefix", "##"},
        {"max_input_chars_per_word", 100}, {"vocab", vocab}}},
  };
}

}  // namespace sparq::runtime
