// Reading a request's JSON body field by field. A body that is not JSON (or not UTF-8) is a
// 400; a field of the wrong type or range is a 422 naming the field. The reader keeps the
// first error and answers defaults after it, so a route reads every field it needs, then
// checks failed() once.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/serve/api_error.h"

namespace sparq::serve {

// The body as a JSON object, or the error to answer.
std::optional<ApiError> parse_json_body(std::string_view body, nlohmann::json& out);

// One text, or a list of them, as a route got it.
struct TextInputs {
  std::vector<std::string> texts;
  bool single = false;  // a string rather than a list: the answer is one item, not a list of one
};

class FieldReader {
 public:
  explicit FieldReader(const nlohmann::json& body) : body_(body) {}

  bool failed() const { return error_.has_value(); }
  const ApiError& error() const { return *error_; }
  bool has(std::string_view name) const;

  bool boolean(std::string_view name, bool fallback);
  double number(std::string_view name, double fallback, double min, double max);
  uint64_t integer(std::string_view name, uint64_t fallback, uint64_t min, uint64_t max);
  std::string string(std::string_view name, std::string fallback = {});
  // A string or a list of strings, never empty (required: a missing field is an error).
  TextInputs texts(std::string_view name, bool required = true);
  const nlohmann::json* object_or_array(std::string_view name);
  // The field as it is (present: check has() first), for a route's own checks.
  const nlohmann::json& value(std::string_view name) const { return *find(name); }

  void fail(ApiError e);

 private:
  const nlohmann::json* find(std::string_view name) const;
  void wrong_type(std::string_view name, std::string_view expected);

  const nlohmann::json& body_;
  std::optional<ApiError> error_;
};

}  // namespace sparq::serve
