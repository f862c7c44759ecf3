// Errors as each API a route belongs to spells them, so that a client library of that API
// reads them as its own:
//   TEI (Text Embeddings Inference):  {"error": MESSAGE, "error_type": TYPE}
//   OpenAI (/v1/...):                 {"error": {"message", "type", "param", "code"}}
//   llama-server (/completion):       {"error": {"code": STATUS, "message", "type"}}
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace sparq::serve {

enum class ApiStyle { tei, openai, llama };

// The API a path belongs to.
ApiStyle api_style_of(std::string_view path);

struct ApiError {
  ApiError(int status, std::string type, std::string message, std::string param = {})
      : status(status), type(std::move(type)), message(std::move(message)), param(std::move(param)) {}

  int status = 400;
  // TEI's error_type ("validation", "tokenizer", "overloaded", "backend", "unhealthy"); the
  // OpenAI type is derived from the status.
  std::string type;
  std::string message;
  std::string param;  // the request field at fault, when one is
  int retry_after_s = 0;  // sent as Retry-After (429, 503)
};

ApiError validation_error(std::string message, std::string param = {});  // 422
ApiError malformed_request(std::string message);                          // 400
ApiError overloaded_error(std::string message);                           // 429, Retry-After
ApiError unavailable_error(std::string message);                          // 503, Retry-After
ApiError backend_error(std::string message);                              // 500

// The response body of `e` in `style`'s shape.
std::string error_body(ApiStyle style, const ApiError& e);

}  // namespace sparq::serve
