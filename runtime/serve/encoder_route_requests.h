// What a body sent to an encoder route asks for, checked field by field without a model:
// a pure function from the request body to a validated request (or the error to answer), so
// that the routes only execute, and the parsing is fuzzed on its own (tests/fuzz/
// serve_request_fuzz.cpp). What depends on the model (its length, its classifier head, its
// embedding width) is checked by the route afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runtime/serve/api_error.h"
#include "runtime/serve/request_fields.h"

namespace sparq::serve {

// TEI POST /embed.
struct EmbedRequest {
  TextInputs inputs;
  bool normalize = true;
  bool truncate = false;
};

// TEI POST /predict: a string; a pair [a, b]; or a batch of [a] and [a, b] items.
struct PredictRequest {
  std::vector<std::string> texts, pairs;  // pairs: empty, or one second text per text
  bool batch = false;                     // answered with one list per input
  bool raw_scores = false;
  bool truncate = false;
};

// TEI POST /tokenize.
struct TokenizeRequest {
  TextInputs inputs;
  bool add_special_tokens = true;
};

// OpenAI POST /v1/embeddings.
struct EmbeddingsRequest {
  TextInputs input;
  std::string model;                     // empty: the first encoder
  bool base64 = false;                   // encoding_format "base64" (else "float")
  std::optional<uint64_t> dimensions;    // must be the model's when given
};

std::variant<EmbedRequest, ApiError> parse_embed_request(std::string_view body);
std::variant<PredictRequest, ApiError> parse_predict_request(std::string_view body);
std::variant<TokenizeRequest, ApiError> parse_tokenize_request(std::string_view body);
std::variant<EmbeddingsRequest, ApiError> parse_embeddings_request(std::string_view body);

}  // namespace sparq::serve
