// The stages of a Hugging Face tokenizer.json pipeline, each built from its JSON object:
// normalizer -> pre-tokenizer -> model (WordPiece or BPE). The Tokenizer (tokenizer.cpp)
// splits out added tokens around them and applies truncation and the post-processor.
// All text handed between stages is valid UTF-8.
#pragma once

#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "formats/error.h"

namespace sparq::runtime {

// A string -> id map that can be queried with a string_view (no temporary strings).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

inline int32_t find_id(const TokenIdMap& map, std::string_view token, int32_t missing = -1) {
  auto it = map.find(token);
  return it == map.end() ? missing : it->second;
}

class TextNormalizer {
 public:
  virtual ~TextNormalizer() = default;
  virtual std::string normalize(std::string_view text) const = 0;
};

// The words of one text, stored back to back in one buffer.
class PreTokens {
 public:
  void clear() {
    buffer_.clear();
    spans_.clear();
  }
  void add(std::string_view word) {
    spans_.emplace_back(buffer_.size(), word.size());
    buffer_.append(word);
  }
  // Appends a word built in place: begin(), write to buffer(), then end().
  void begin() { open_ = buffer_.size(); }
  std::string& buffer() { return buffer_; }
  void end() { spans_.emplace_back(open_, buffer_.size() - open_); }

  size_t size() const { return spans_.size(); }
  std::string_view operator[](size_t i) const {
    return std::string_view(buffer_).substr(spans_[i].first, spans_[i].second);
  }

 private:
  std::string buffer_;
  std::vector<std::pair<size_t, size_t>> spans_;
  size_t open_ = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Appends the words of `text` to `out`.
  virtual void split(std::string_view text, PreTokens& out) const = 0;
  // The same for one section of the input between added tokens; `first_section`: no added
  // token precedes it in the raw text (Metaspace's prepend_scheme "first" depends on it).
  virtual void split_section(std::string_view text, PreTokens& out, bool first_section) const {
    (void)first_section;
    split(text, out);
  }
};

// Ids index a table of tokens, so one far id in a small tokenizer.json would allocate
// gigabytes (an id of 360,000,011 among 120 tokens asked for 11.5 GB: found by
// fuzz_tokenizer_json). Hugging Face's ids run 0..n-1, a few tokenizers leave holes; an id
// past twice the number of tokens (plus slack) is no vocabulary sparq can hold.
inline bool plausible_token_id(int64_t id, size_t tokens) {
  return id >= 0 && uint64_t(id) < 2 * uint64_t(tokens) + 1024;
}

// The model's vocabulary: token -> id, and id -> token.
struct Vocabulary {
  TokenIdMap ids;
  std::vector<std::string> tokens;
  void set(const std::string& token, int32_t id) {
    ids[token] = id;
    if (size_t(id) >= tokens.size()) tokens.resize(size_t(id) + 1);
    tokens[size_t(id)] = token;
  }
};

class TokenModel {
 public:
  virtual ~TokenModel() = default;
  // Appends the ids of one pre-tokenized word. Words repeat (Zipf), so each thread remembers
  // the ids of the short words it has seen: per thread, so without locks, and bounded.
  void encode_word(std::string_view word, std::vector<int32_t>& ids) const;
  virtual std::string_view kind() const = 0;
  // Called once `vocab` is final (the tokenizer adds its added tokens to it, as the reference
  // does), before the first encode_word.
  virtual void vocabulary_complete() {}

  Vocabulary vocab;
  std::string unk_token;  // "": none
  int32_t unk_id = -1;    // resolved by the tokenizer; -1: no unknown token
  bool fuse_unk = false;  // consecutive unknown tokens become one

 protected:
  virtual void encode_uncached(std::string_view word, std::vector<int32_t>& ids) const = 0;

 private:
  const uint64_t instance_ = next_instance();  // tells the per-thread caches of two models apart
  static uint64_t next_instance();
};

// A stage of tokenizer.json's decoder: rewrites the token strings of the ids (already
// looked up) into pieces of text, which the tokenizer then joins.
class TokenDecoder {
 public:
  virtual ~TokenDecoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// `text` with every occurrence of `pattern` (non-empty) replaced by `content`, left to right.
std::string replace_all(std::string_view text, std::string_view pattern, std::string_view content);

// Hugging Face's clean_up_tokenization: drops the space before . ? ! , and English
// contractions (" n't", " 's", ...), and turns " ' " into "'".
std::string clean_up_tokenization(std::string_view text);

// Each factory takes the JSON object and its path in tokenizer.json for error messages.
// A null normalizer or pre-tokenizer gives nullptr.
// Sequences may nest `kMaxSequenceNesting` deep (real tokenizers nest one or two): each level
// costs a copy of the path and a virtual call per piece of text.
inline constexpr int kMaxSequenceNesting = 8;
Status check_sequence_nesting(const std::string& path, int depth);
Result<std::unique_ptr<TextNormalizer>> make_normalizer(const nlohmann::json& j, const std::string& path, int depth = 0);
Result<std::unique_ptr<PreTokenizer>> make_pre_tokenizer(const nlohmann::json& j, const std::string& path,
                                                         int depth = 0);
// Split with one of the regular expressions real tokenizers use (tokenizer_split_patterns.cpp).
Result<std::unique_ptr<PreTokenizer>> make_split_pre_tokenizer(const nlohmann::json& j, const std::string& path);
// `added_tokens`: the contents of the added tokens, which the ByteLevel decoder passes through
// unchanged; it must outlive the decoder. A null decoder gives nullptr.
Result<std::unique_ptr<TokenDecoder>> make_decoder(const nlohmann::json& j, const std::string& path,
                                                   const TokenIdMap& added_tokens, int depth = 0);
Result<std::unique_ptr<TokenModel>> make_wordpiece_model(const nlohmann::json& j, const std::string& path);
Result<std::unique_ptr<TokenModel>> make_bpe_model(const nlohmann::json& j, const std::string& path);

// Reads an optional field of type T; a wrong type is an error naming the path.
template <class T>
Result<T> optional_field(const nlohmann::json& j, const std::string& path, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // get<int>() casts a float (1.2e20) or a too-large integer out of range, which is
    // undefined (found by fuzz_tokenizer_json under UBSan): integers in T's range only.
    // A JSON integer is stored as uint64 or int64; std::in_range compares either with T
    // without a cast that could wrap.
    const bool in_range = it->is_number_unsigned() ? std::in_range<T>(it->template get<uint64_t>())
                          : it->is_number_integer() ? std::in_range<T>(it->template get<int64_t>())
                                                    : false;
    if (!in_range) return Error(path + "." + key + ": expected an integer in range, got " + it->dump());
  }
  try {
    return it->template get<T>();
  } catch (const nlohmann::json::exception&) {
    return Error(path + "." + key + ": unexpected type " + it->type_name());
  }
}

}  // namespace sparq::runtime
