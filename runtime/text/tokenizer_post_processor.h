// Post-processing and truncation: the template that wraps one or two token sequences in
// special tokens with token type ids (TemplateProcessing, BertProcessing, RobertaProcessing
// all reduce to one), and Hugging Face's "longest_first" truncation that makes room for it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/error.h"
#include "runtime/text/tokenizer.h"

namespace sparq::runtime {

class PostTemplate {
 public:
  struct Piece {
    int sequence;     // 0: text A, 1: text B, -1: the special token `id`
    int32_t id;
    int32_t type_id;
  };

  // From tokenizer.json's post_processor (null: A, or A then B, with type ids 0 and 1).
  // `token_id` resolves a special token's string, as the reference does (-1: unknown).
  static Result<PostTemplate> from_json(const nlohmann::json& j, const std::string& path,
                                        const std::function<int32_t(std::string_view)>& token_id);

  // How many special tokens the template adds.
  size_t added_tokens(bool pair) const;
  // Truncates `a` (and `b`) so that the result fits `max_length` tokens (0: no limit), then
  // applies the template.
  Encoding apply(std::vector<int32_t> a, const std::vector<int32_t>* b, size_t max_length) const;

  std::vector<Piece> single, pair;
};

// Hugging Face's "longest_first" for two sequences: the lengths (n1, n2) to keep so that
// n1 + n2 <= max_length.
std::pair<size_t, size_t> longest_first_lengths(size_t n1, size_t n2, size_t max_length);

}  // namespace sparq::runtime
