// WordPiece: greedy longest-match-first over a word's characters; pieces after the first
// carry the continuing-subword prefix ("##"); a word with an unmatchable rest, or longer than
// max_input_chars_per_word characters, is one unknown token.
#include <fmt/core.h>

#include <algorithm>

#include "runtime/text/tokenizer_pipeline.h"
#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

class WordPieceModel final : public TokenModel {
 public:
  WordPieceModel(std::string prefix, size_t max_chars) : prefix_(std::move(prefix)), max_chars_(max_chars) {}

  std::string_view kind() const override { return "wordpiece"; }

  void vocabulary_complete() override {
    // No candidate longer than the longest token can match, which bounds the search.
    longest_token_chars_ = 0;
    for (const auto& [token, id] : vocab.ids) {
      longest_token_chars_ = std::max(longest_token_chars_, unicode::count_code_points(token));
    }
  }

  void encode_uncached(std::string_view word, std::vector<int32_t>& ids) const override {
    thread_local std::vector<uint32_t> bounds;  // byte offset of each character, and the end
    thread_local std::string candidate;
    bounds.clear();
    for (size_t i = 0; i < word.size();) {
      bounds.push_back(uint32_t(i));
      unicode::next_code_point(word, i);
    }
    size_t chars = bounds.size();
    bounds.push_back(uint32_t(word.size()));
    if (chars > max_chars_) {
      ids.push_back(unk_id);
      return;
    }
    size_t first_piece = ids.size();
    for (size_t start = 0; start < chars;) {
      int32_t found = -1;
      size_t end = std::min(chars, start + longest_token_chars_);
      for (; end > start; --end) {
        std::string_view piece = word.substr(bounds[start], bounds[end] - bounds[start]);
        if (start > 0) {
          candidate.assign(prefix_);
          candidate.append(piece);
          piece = candidate;
        }
        if ((found = find_id(vocab.ids, piece)) >= 0) break;
      }
      if (found < 0) {
        ids.resize(first_piece);
        ids.push_back(unk_id);
        return;
      }
      ids.push_back(found);
      start = end;
    }
  }

 private:
  std::string prefix_;
  size_t max_chars_;
  size_t longest_token_chars_ = 0;
};

}  // namespace

Result<std::unique_ptr<TokenModel>> make_wordpiece_model(const json& j, const std::string& path) {
  auto prefix = optional_field<std::string>(j, path, "continuing_subword_prefix", "##");
  auto max_chars = optional_field<size_t>(j, path, "max_input_chars_per_word", 100);
  auto unk = optional_field<std::string>(j, path, "unk_token", "[UNK]");
  if (!prefix) return prefix.error();
  if (!max_chars) return max_chars.error();
  if (!unk) return unk.error();
  const json& vocab = j.value("vocab", json());
  if (!vocab.is_object()) return Error(path + ".vocab: expected an object of token -> id");
  auto model = std::make_unique<WordPieceModel>(*prefix, *max_chars);
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      return Error(path + ".vocab[\"" + token + "\"]: expected a non-negative integer id");
    }
    if (!plausible_token_id(id.get<int64_t>(), vocab.size())) {
      return Error(fmt::format("{}.vocab[\"{}\"]: id {} is far past the vocabulary's {} tokens (ids run from 0)",
                               path, token, id.get<int64_t>(), vocab.size()));
    }
    model->vocab.set(token, id.get<int32_t>());
  }
  model->unk_token = *unk;
  auto fuse = optional_field<bool>(j, path, "fuse_unk", false);
  if (!fuse) return fuse.error();
  model->fuse_unk = *fuse;
  return std::unique_ptr<TokenModel>(std::move(model));
}

}  // namespace sparq::runtime
