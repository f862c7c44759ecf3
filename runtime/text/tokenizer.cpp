// A tokenizer.json pipeline: added tokens are split out of the raw text first, the rest is
// normalized (then split again on normalized added tokens), pre-tokenized and encoded by the
// model; the post-processor template wraps the (truncated) result. Decoding looks the ids'
// token strings up and hands them to the decoder. The order of these steps,
// and the treatment of lstrip/rstrip, follow Hugging Face's tokenizers as shipped in
// transformers.js, which sparq's equality test runs as the reference.
#include "runtime/text/tokenizer.h"

#include <fmt/core.h>

#include <algorithm>
#include <array>

#include "formats/utf8.h"
#include "runtime/text/tokenizer_pipeline.h"
#include "runtime/text/tokenizer_post_processor.h"
#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool lstrip = false, rstrip = false, special = false, normalized = true;
};

struct Section {
  std::string_view text;
  int32_t added_id;  // >= 0 when the section is an added token
};

// Splits text at the longest added token that starts at each position, scanning left to right.
class AddedTokenSplitter {
 public:
  void add(const std::string& content) {
    if (content.empty()) return;
    auto& list = by_first_byte_[static_cast<uint8_t>(content[0])];
    list.push_back(content);
    std::stable_sort(list.begin(), list.end(), [](const auto& x, const auto& y) { return x.size() > y.size(); });
  }

  // Appends the sections of `text` (added_id still -1).
  void split(std::string_view text, std::vector<Section>& out) const {
    size_t start = 0;
    for (size_t i = 0; i < text.size();) {
      const auto& candidates = by_first_byte_[static_cast<uint8_t>(text[i])];
      const std::string* hit = nullptr;
      for (const auto& c : candidates) {
        if (text.compare(i, c.size(), c) == 0) {
          hit = &c;
          break;
        }
      }
      if (!hit) {
        ++i;
        continue;
      }
      if (i > start) out.push_back({text.substr(start, i - start), -1});
      out.push_back({text.substr(i, hit->size()), -1});
      i += hit->size();
      start = i;
    }
    if (start < text.size()) out.push_back({text.substr(start), -1});
  }

 private:
  std::array<std::vector<std::string>, 256> by_first_byte_;
};

std::string_view trim_start(std::string_view s) {
  while (!s.empty()) {
    size_t i = 0;
    if (!unicode::is_js_whitespace(unicode::next_code_point(s, i))) break;
    s.remove_prefix(i);
  }
  return s;
}

std::string_view trim_end(std::string_view s) {
  while (!s.empty()) {
    size_t start = s.size() - 1;
    while (start > 0 && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
    size_t i = start;
    if (!unicode::is_js_whitespace(unicode::next_code_point(s, i))) break;
    s.remove_suffix(s.size() - start);
  }
  return s;
}

class PipelineTokenizer final : public Tokenizer {
 public:
  std::unique_ptr<TextNormalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<TokenModel> model;
  std::unique_ptr<TokenDecoder> decoder;
  PostTemplate post;
  std::vector<AddedToken> added;
  TokenIdMap added_ids;       // contents and normalized contents of added tokens
  TokenIdMap added_contents;  // contents of added tokens only (the ByteLevel decoder's set)
  TokenIdMap special_contents;  // contents of the added tokens marked special
  std::vector<bool> special_ids;  // by id
  AddedTokenSplitter raw_splitter, normalized_splitter;
  int32_t pad = 0;

  Result<Encoding> encode(std::string_view text, size_t max_length) const override {
    auto ids = encode_text(text, "text");
    if (!ids) return ids.error();
    return post.apply(std::move(*ids), nullptr, max_length);
  }

  Result<std::vector<int32_t>> encode_ids(std::string_view text) const override { return encode_text(text, "text"); }

  Result<Encoding> encode_pair(std::string_view a, std::string_view b, size_t max_length) const override {
    auto ids_a = encode_text(a, "first text");
    if (!ids_a) return ids_a.error();
    auto ids_b = encode_text(b, "second text");
    if (!ids_b) return ids_b.error();
    return post.apply(std::move(*ids_a), &*ids_b, max_length);
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens, bool clean_up_spaces) const override {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
      // Looked up by content as the reference does: a vocabulary token spelled like a special
      // one is skipped too.
      std::string_view token = id >= 0 && size_t(id) < model->vocab.tokens.size() ? model->vocab.tokens[size_t(id)]
                                                                                   : std::string_view();
      if (token.empty()) token = model->unk_token;
      if (skip_special_tokens && special_contents.contains(token)) continue;
      tokens.emplace_back(token);
    }
    std::string text;
    if (decoder) {
      decoder->decode_chain(tokens);
      for (const std::string& piece : tokens) text += piece;
    } else {
      for (size_t i = 0; i < tokens.size(); ++i) {
        if (i > 0) text += ' ';
        text += tokens[i];
      }
    }
    return clean_up_spaces ? clean_up_tokenization(text) : text;
  }

  int32_t token_to_id(std::string_view token) const override { return token_id(token); }

  bool is_special(int32_t id) const override { return id >= 0 && size_t(id) < special_ids.size() && special_ids[size_t(id)]; }

  int32_t pad_id() const override { return pad; }
  size_t vocab_size() const override { return model->vocab.tokens.size(); }
  std::string id_to_token(int32_t id) const override {
    return id >= 0 && size_t(id) < model->vocab.tokens.size() ? model->vocab.tokens[size_t(id)] : std::string();
  }
  std::string_view kind() const override { return model->kind(); }

  // The id the reference gives a token string: added tokens first, then the vocabulary.
  int32_t token_id(std::string_view token) const {
    int32_t id = find_id(added_ids, token);
    return id >= 0 ? id : find_id(model->vocab.ids, token);
  }

 private:
  // Splits at added tokens, then applies lstrip/rstrip of the tokens found to their neighbours.
  void split_added(std::string_view text, const AddedTokenSplitter& splitter, std::vector<Section>& sections) const {
    sections.clear();
    splitter.split(text, sections);
    for (size_t i = 0; i < sections.size(); ++i) {
      // Any section equal to an added token is that token, as in the reference.
      sections[i].added_id = find_id(added_ids, sections[i].text);
      if (sections[i].added_id < 0) continue;
      const AddedToken* token = find_token(sections[i].added_id);
      if (token && token->lstrip && i > 0) sections[i - 1].text = trim_end(sections[i - 1].text);
      if (token && token->rstrip && i + 1 < sections.size()) sections[i + 1].text = trim_start(sections[i + 1].text);
    }
  }

  const AddedToken* find_token(int32_t id) const {
    for (const auto& t : added) {
      if (t.id == id) return &t;
    }
    return nullptr;
  }

  void encode_words(std::string_view text, bool first_section, std::vector<int32_t>& ids) const {
    thread_local PreTokens words;
    size_t first = ids.size();
    if (pre_tokenizer) {
      words.clear();
      pre_tokenizer->split_section(text, words, first_section);
      for (size_t w = 0; w < words.size(); ++w) model->encode_word(words[w], ids);
    } else {
      model->encode_word(text, ids);
    }
    if (model->fuse_unk && model->unk_id >= 0) {
      auto from = ids.begin() + std::ptrdiff_t(first);
      auto last = std::unique(from, ids.end(), [unk = model->unk_id](int32_t x, int32_t y) { return x == unk && y == unk; });
      ids.erase(last, ids.end());
    }
  }

  Result<std::vector<int32_t>> encode_text(std::string_view text, const char* what) const {
    size_t bad = formats::find_invalid_utf8(text);
    if (bad != std::string_view::npos) return Error(fmt::format("{}: invalid UTF-8 at byte offset {}", what, bad));
    std::vector<int32_t> ids;
    std::vector<Section> sections, subsections;
    split_added(text, raw_splitter, sections);
    for (size_t s = 0; s < sections.size(); ++s) {
      const Section& section = sections[s];
      if (section.text.empty()) continue;
      if (section.added_id >= 0) {
        ids.push_back(section.added_id);
        continue;
      }
      std::string normalized = normalizer ? normalizer->normalize(section.text) : std::string(section.text);
      split_added(normalized, normalized_splitter, subsections);
      for (const Section& sub : subsections) {
        if (sub.text.empty()) continue;
        if (sub.added_id >= 0) {
          ids.push_back(sub.added_id);
        } else {
          encode_words(sub.text, s == 0, ids);
        }
      }
    }
    return ids;
  }
};

Result<std::vector<AddedToken>> parse_added_tokens(const json& list) {
  std::vector<AddedToken> tokens;
  if (list.is_null()) return tokens;
  if (!list.is_array()) return Error("tokenizer.added_tokens: expected an array");
  for (size_t i = 0; i < list.size(); ++i) {
    std::string path = fmt::format("tokenizer.added_tokens[{}]", i);
    const json& t = list[i];
    AddedToken token;
    try {
      token.content = t.at("content").get<std::string>();
      // An integer first: get<int32_t>() casts a float (1e10) out of range, which is undefined.
      const json& id = t.at("id");
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
        return Error(path + ".id: expected a non-negative integer");
      }
      token.id = id.get<int32_t>();
      token.lstrip = t.value("lstrip", false);
      token.rstrip = t.value("rstrip", false);
      token.special = t.value("special", false);
      token.normalized = t.contains("normalized") && !t["normalized"].is_null() ? t["normalized"].get<bool>() : !token.special;
    } catch (const json::exception& e) {
      return Error(path + ": " + e.what());
    }
    if (token.id < 0) return Error(path + ".id: must not be negative");
    if (!formats::is_valid_utf8(token.content)) return Error(path + ".content: invalid UTF-8");
    tokens.push_back(std::move(token));
  }
  return tokens;
}

int32_t find_pad_id(const json& tokenizer_json, const PipelineTokenizer& t) {
  const json& padding = tokenizer_json.value("padding", json());
  if (padding.is_object() && padding.contains("pad_id") && padding["pad_id"].is_number_integer()) {
    return padding["pad_id"].get<int32_t>();
  }
  for (const char* name : {"[PAD]", "<pad>"}) {
    int32_t id = t.token_id(name);
    if (id >= 0) return id;
  }
  return 0;
}

}  // namespace

Result<std::shared_ptr<const Tokenizer>> Tokenizer::from_json(const json& j) {
  if (!j.is_object()) return Error("tokenizer: expected a JSON object");
  auto t = std::make_shared<PipelineTokenizer>();

  const json& model_json = j.value("model", json());
  if (!model_json.is_object()) return Error("tokenizer.model: expected an object");
  std::string model_type = model_json.value("type", "");
  Result<std::unique_ptr<TokenModel>> model = Error("");
  if (model_type == "WordPiece") {
    model = make_wordpiece_model(model_json, "tokenizer.model");
  } else if (model_type == "BPE") {
    model = make_bpe_model(model_json, "tokenizer.model");
  } else {
    return Error("tokenizer.model.type: '" + model_type + "' is not supported (WordPiece and BPE are)",
                 ErrorKind::unsupported);
  }
  if (!model) return model.error();
  t->model = std::move(*model);

  auto normalizer = make_normalizer(j.value("normalizer", json()), "tokenizer.normalizer");
  if (!normalizer) return normalizer.error();
  t->normalizer = std::move(*normalizer);
  auto pre = make_pre_tokenizer(j.value("pre_tokenizer", json()), "tokenizer.pre_tokenizer");
  if (!pre) return pre.error();
  t->pre_tokenizer = std::move(*pre);

  auto added = parse_added_tokens(j.value("added_tokens", json()));
  if (!added) return added.error();
  t->added = std::move(*added);
  for (const AddedToken& token : t->added) {
    if (!plausible_token_id(token.id, t->model->vocab.ids.size() + t->added.size())) {
      return Error(fmt::format("tokenizer.added_tokens: id {} of '{}' is far past the vocabulary's {} tokens",
                               token.id, token.content, t->model->vocab.ids.size() + t->added.size()));
    }
    t->model->vocab.set(token.content, token.id);
    t->added_ids[token.content] = token.id;
    t->added_contents[token.content] = token.id;
    if (token.special) {
      t->special_contents[token.content] = token.id;
      if (size_t(token.id) >= t->special_ids.size()) t->special_ids.resize(size_t(token.id) + 1);
      t->special_ids[size_t(token.id)] = true;
    }
    if (token.normalized && t->normalizer) {
      std::string normalized = t->normalizer->normalize(token.content);
      t->added_ids[normalized] = token.id;
      t->normalized_splitter.add(normalized);
    } else {
      t->raw_splitter.add(token.content);
    }
  }
  if (!t->model->unk_token.empty()) {
    t->model->unk_id = t->token_id(t->model->unk_token);
    if (t->model->unk_id < 0 && t->model->kind() == "wordpiece") {
      return Error("tokenizer.model.unk_token: '" + t->model->unk_token + "' is not in the vocabulary");
    }
  }
  t->model->vocabulary_complete();
  auto decoder = make_decoder(j.value("decoder", json()), "tokenizer.decoder", t->added_contents);
  if (!decoder) return decoder.error();
  t->decoder = std::move(*decoder);

  auto post = PostTemplate::from_json(j.value("post_processor", json()), "tokenizer.post_processor",
                                      [&t](std::string_view token) { return t->token_id(token); });
  if (!post) return post.error();
  t->post = std::move(*post);
  t->pad = find_pad_id(j, *t);
  return std::shared_ptr<const Tokenizer>(std::move(t));
}

}  // namespace sparq::runtime
