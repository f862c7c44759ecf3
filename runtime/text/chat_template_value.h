// The values a chat template computes with, modelled on @huggingface/jinja's runtime values
// (what byte-identical output depends on): JavaScript numbers that remember whether they are
// integers or floats, objects that keep insertion order, undefined apart from none, and
// namespaces shared by reference.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sparq::runtime::chat_template_detail {

struct Value;
using ValueList = std::vector<Value>;
using ValueMap = std::vector<std::pair<std::string, Value>>;  // insertion order, as a JS Map

struct Value {
  enum class Kind : uint8_t { undefined, null, boolean, integer, floating, string, array, object, namespace_, function };
  Kind kind = Kind::undefined;
  bool boolean = false;
  double number = 0;  // integer and floating: a JavaScript number
  std::string string;
  std::shared_ptr<ValueList> array;
  std::shared_ptr<ValueMap> object;  // object and namespace_ (shared: set ns.x writes through)
  // function: a global ("range", "raise_exception", "strftime_now", "namespace") or a
  // method ("upper", "items", ...) bound to `self`.
  std::string function_name;
  std::shared_ptr<Value> self;

  static Value undefined() { return {}; }
  static Value null() { return make(Kind::null); }
  static Value of(bool b) {
    Value v = make(Kind::boolean);
    v.boolean = b;
    return v;
  }
  static Value integer(double n) {
    Value v = make(Kind::integer);
    v.number = n;
    return v;
  }
  static Value floating(double n) {
    Value v = make(Kind::floating);
    v.number = n;
    return v;
  }
  static Value of(std::string s) {
    Value v = make(Kind::string);
    v.string = std::move(s);
    return v;
  }
  static Value list(ValueList items) {
    Value v = make(Kind::array);
    v.array = std::make_shared<ValueList>(std::move(items));
    return v;
  }
  static Value map(ValueMap entries, Kind kind = Kind::object) {
    Value v = make(kind);
    v.object = std::make_shared<ValueMap>(std::move(entries));
    return v;
  }
  static Value function(std::string name, std::shared_ptr<Value> bound = nullptr) {
    Value v = make(Kind::function);
    v.function_name = std::move(name);
    v.self = std::move(bound);
    return v;
  }
  static Value make(Kind k) {
    Value v;
    v.kind = k;
    return v;
  }

  bool is_number() const { return kind == Kind::integer || kind == Kind::floating; }
  bool is_map() const { return kind == Kind::object || kind == Kind::namespace_; }
  // Entry of an object or namespace, or nullptr.
  const Value* find(const std::string& key) const {
    if (!object) return nullptr;
    for (const auto& [k, v] : *object) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

// JSON in (messages, context) the way @huggingface/jinja converts JS values; throws
// std::invalid_argument on a string that is not valid UTF-8.
Value value_from_json(const nlohmann::json& j);

}  // namespace sparq::runtime::chat_template_detail

namespace sparq::runtime::chat_template_detail {

// String(n) in JavaScript: shortest round-trip digits, exponent form outside [1e-6, 1e21).
std::string js_number_string(double n);
// What {{ value }} prints (the reference's toString()); undefined and none print nothing
// only at the output statement, which checks that itself.
std::string display_string(const Value& v);

struct JsonTextOptions {
  int indent = 0;  // 0: one line
  bool ensure_ascii = false;
  bool sort_keys = false;
  bool has_separators = false;
  std::string item_separator, key_separator;
  bool undefined_as_null = true;  // tojson: true; display of containers: prints "undefined"
};
// The tojson filter's text (JSON.stringify for scalars, ", " and ": " separators).
std::string json_text(const Value& v, const JsonTextOptions& options, int depth = 0);

// Python truthiness as the reference implements it.
bool truthy(const Value& v);
// JavaScript's String.prototype.length: UTF-16 code units.
size_t utf16_length(std::string_view s);

}  // namespace sparq::runtime::chat_template_detail
