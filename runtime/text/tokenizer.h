// Tokenizers that give exactly the ids Hugging Face's `tokenizers` library gives for the
// same tokenizer.json: WordPiece (BertNormalizer + BertPreTokenizer + WordPiece, as BERT
// and DistilBERT use), byte-level BPE (ByteLevel pre-tokenizer + BPE merges, as RoBERTa
// and GPT-2 use; behind Llama 3's or Qwen2's Split pattern) and SentencePiece-style BPE
// with byte fallback (Llama 2, TinyLlama, Mistral), with added/special tokens, the
// post-processor template (CLS/SEP, BOS, pairs, token type ids), and truncation; and back
// from ids to text through tokenizer.json's decoder. Padding is the batcher's job (dynamic,
// per batch); whether to add BOS (tokenizer_config.json's add_bos_token) is the caller's.
//
// A Tokenizer is immutable after construction and safe to use from many threads at once.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <span>
#include <string_view>
#include <vector>

#include "formats/error.h"

namespace sparq::runtime {

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;  // same length as ids
  // Tokens dropped by truncation (0 when the text fit), so callers can count and report it.
  size_t truncated_tokens = 0;
};

class Tokenizer {
 public:
  // From a parsed tokenizer.json object. Components outside the supported set are refused
  // with an error naming the JSON path (e.g. "tokenizer.normalizer.type: 'NFKC' is not
  // supported").
  static Result<std::shared_ptr<const Tokenizer>> from_json(const nlohmann::json& tokenizer_json);
  // A tokenizer.json object equivalent to a BERT vocab.txt (+ tokenizer_config.json, which
  // may be null: do_lower_case, strip_accents, tokenize_chinese_chars, special tokens,
  // model_max_length), for checkpoints that ship no tokenizer.json.
  static Result<nlohmann::json> json_from_wordpiece_vocab(const std::string& vocab_txt_path,
                                                          const nlohmann::json& tokenizer_config);

  virtual ~Tokenizer() = default;

  // Encodes one text (or a pair) with special tokens, truncated to `max_length` tokens in
  // total (0: no limit) the way HF's "longest_first" strategy does. Invalid UTF-8 is an
  // error, not a guess.
  virtual Result<Encoding> encode(std::string_view text, size_t max_length) const = 0;
  // The ids of `text` without the post-processor's special tokens (Hugging Face's
  // add_special_tokens=False): what a rendered chat template, which writes its own BOS, is
  // encoded with.
  virtual Result<std::vector<int32_t>> encode_ids(std::string_view text) const = 0;
  virtual Result<Encoding> encode_pair(std::string_view a, std::string_view b,
                                       size_t max_length) const = 0;

  // The text of `ids` as tokenizer.json's decoder makes it (the token strings joined by
  // spaces when it has none), as Hugging Face's decode() gives it. With
  // `skip_special_tokens`, added tokens marked special are left out; with
  // `clean_up_spaces`, Hugging Face's clean_up_tokenization_spaces is applied (" ." -> ".",
  // " 's" -> "'s", ...). An id outside the vocabulary decodes as the unknown token, or as
  // nothing without one. Invalid UTF-8 from byte tokens becomes U+FFFD.
  virtual std::string decode(std::span<const int32_t> ids, bool skip_special_tokens,
                             bool clean_up_spaces = false) const = 0;
  // The id of a token string (added tokens first, as encode() resolves them; -1: none), to
  // find stop and control tokens such as "<|eot_id|>" or "</s>".
  virtual int32_t token_to_id(std::string_view token) const = 0;
  // Whether `id` is an added token marked special (BOS, EOS, chat control tokens): what
  // skip_special_tokens leaves out.
  virtual bool is_special(int32_t id) const = 0;

  virtual int32_t pad_id() const = 0;
  virtual size_t vocab_size() const = 0;
  // The token string of an id ("" when out of range), for `sparq tokenize` and messages.
  virtual std::string id_to_token(int32_t id) const = 0;
  virtual std::string_view kind() const = 0;  // "wordpiece" or "bpe"
};

}  // namespace sparq::runtime
