#include "runtime/serve/api_error.h"

#include <nlohmann/json.hpp>

#include <utility>

namespace sparq::serve {
namespace {

// OpenAI's error types: invalid_request_error for what the client can fix, the others for
// what it cannot.
std::string openai_type(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_exceeded";
    case 503: return "server_overloaded";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

// OpenAI's machine-readable codes for the errors a client branches on.
nlohmann::json openai_code(const ApiError& e) {
  switch (e.status) {
    case 401: return "invalid_api_key";
    case 404: return e.param == "model" ? nlohmann::json("model_not_found") : nlohmann::json(nullptr);
    case 413: return "request_too_large";
    case 429: return "rate_limit_exceeded";
    default: return nullptr;
  }
}

}  // namespace

ApiStyle api_style_of(std::string_view path) {
  if (path.starts_with("/v1/")) return ApiStyle::openai;
  if (path == "/completion") return ApiStyle::llama;
  return ApiStyle::tei;
}

ApiError validation_error(std::string message, std::string param) {
  return ApiError(422, "validation", std::move(message), std::move(param));
}
ApiError malformed_request(std::string message) { return ApiError(400, "validation", std::move(message)); }
ApiError overloaded_error(std::string message) {
  ApiError e(429, "overloaded", std::move(message));
  e.retry_after_s = 1;
  return e;
}
ApiError unavailable_error(std::string message) {
  ApiError e(503, "unhealthy", std::move(message));
  e.retry_after_s = 1;
  return e;
}
ApiError backend_error(std::string message) { return ApiError(500, "backend", std::move(message)); }

std::string error_body(ApiStyle style, const ApiError& e) {
  nlohmann::ordered_json j;
  switch (style) {
    case ApiStyle::tei:
      j = {{"error", e.message}, {"error_type", e.type}};
      break;
    case ApiStyle::openai:
      j["error"] = {{"message", e.message},
                    {"type", openai_type(e.status)},
                    {"param", e.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.param)},
                    {"code", openai_code(e)}};
      break;
    case ApiStyle::llama:
      j["error"] = {{"code", e.status}, {"message", e.message}, {"type", openai_type(e.status)}};
      break;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sparq::serve
