#include "runtime/serve/request_fields.h"

#include <fmt/core.h>

#include <cmath>

namespace sparq::serve {
namespace {

std::string_view type_name(const nlohmann::json& v) {
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

}  // namespace

std::optional<ApiError> parse_json_body(std::string_view body, nlohmann::json& out) {
  // nlohmann's SAX parser rejects ill-formed UTF-8 inside strings, so a body it accepts is
  // valid UTF-8 wherever a text can come from. Not only parse_error: a number beyond a double
  // ("1e400") is out_of_range (fuzz_serve_request found it answered 500).
  try {
    out = nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    return malformed_request(fmt::format("the request body is not valid JSON: {}", e.what()));
  }
  if (!out.is_object()) {
    return validation_error(fmt::format("the request body must be a JSON object, got {}", type_name(out)));
  }
  return std::nullopt;
}

const nlohmann::json* FieldReader::find(std::string_view name) const {
  auto it = body_.find(name);
  if (it == body_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool FieldReader::has(std::string_view name) const { return find(name) != nullptr; }

void FieldReader::fail(ApiError e) {
  if (!error_) error_ = std::move(e);
}

void FieldReader::wrong_type(std::string_view name, std::string_view expected) {
  fail(validation_error(fmt::format("`{}`: expected {}, got {}", name, expected, type_name(*find(name))),
                        std::string(name)));
}

bool FieldReader::boolean(std::string_view name, bool fallback) {
  const nlohmann::json* v = find(name);
  if (!v || failed()) return fallback;
  if (!v->is_boolean()) {
    wrong_type(name, "a boolean");
    return fallback;
  }
  return v->get<bool>();
}

double FieldReader::number(std::string_view name, double fallback, double min, double max) {
  const nlohmann::json* v = find(name);
  if (!v || failed()) return fallback;
  if (!v->is_number()) {
    wrong_type(name, "a number");
    return fallback;
  }
  const double x = v->get<double>();
  if (!(x >= min && x <= max)) {
    fail(validation_error(fmt::format("`{}`: expected a number in [{}, {}], got {}", name, min, max, x),
                          std::string(name)));
    return fallback;
  }
  return x;
}

uint64_t FieldReader::integer(std::string_view name, uint64_t fallback, uint64_t min, uint64_t max) {
  const nlohmann::json* v = find(name);
  if (!v || failed()) return fallback;
  const bool whole = v->is_number_integer() || (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>());
  if (!whole) {
    wrong_type(name, "an integer");
    return fallback;
  }
  const double x = v->get<double>();
  if (x < double(min) || x > double(max)) {
    fail(validation_error(fmt::format("`{}`: expected an integer in [{}, {}], got {}", name, min, max, v->dump()),
                          std::string(name)));
    return fallback;
  }
  return v->is_number_unsigned() ? v->get<uint64_t>() : uint64_t(x);
}

std::string FieldReader::string(std::string_view name, std::string fallback) {
  const nlohmann::json* v = find(name);
  if (!v || failed()) return fallback;
  if (!v->is_string()) {
    wrong_type(name, "a string");
    return fallback;
  }
  return v->get<std::string>();
}

TextInputs FieldReader::texts(std::string_view name, bool required) {
  TextInputs out;
  const nlohmann::json* v = find(name);
  if (failed()) return out;
  if (!v) {
    if (required) fail(validation_error(fmt::format("`{}` is missing", name), std::string(name)));
    return out;
  }
  if (v->is_string()) {
    out.single = true;
    out.texts.push_back(v->get<std::string>());
    return out;
  }
  if (!v->is_array()) {
    wrong_type(name, "a string or an array of strings");
    return out;
  }
  if (v->empty()) {
    fail(validation_error(fmt::format("`{}` is an empty array", name), std::string(name)));
    return out;
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const nlohmann::json& item = (*v)[i];
    if (!item.is_string()) {
      fail(validation_error(fmt::format("`{}[{}]`: expected a string, got {}", name, i, type_name(item)),
                            std::string(name)));
      return {};
    }
    out.texts.push_back(item.get<std::string>());
  }
  return out;
}

const nlohmann::json* FieldReader::object_or_array(std::string_view name) {
  const nlohmann::json* v = find(name);
  if (!v || failed()) return nullptr;
  if (!v->is_object() && !v->is_array()) {
    wrong_type(name, "an object or an array");
    return nullptr;
  }
  return v;
}

}  // namespace sparq::serve
