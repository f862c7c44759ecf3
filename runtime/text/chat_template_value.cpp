// Converting and printing chat template values exactly as @huggingface/jinja does: its
// numbers are JavaScript numbers, its toString() and tojson are JavaScript's String() and
// JSON.stringify with Python's separators.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <stdexcept>
#include <cmath>
#include <string>

#include "formats/utf8.h"
#include "runtime/text/chat_template_value.h"
#include "runtime/text/tokenizer_unicode.h"

namespace sparq::runtime::chat_template_detail {

Value value_from_json(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::null();
    case nlohmann::json::value_t::boolean: return Value::of(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return Value::integer(static_cast<double>(j.get<int64_t>()));
    case nlohmann::json::value_t::number_unsigned: return Value::integer(static_cast<double>(j.get<uint64_t>()));
    case nlohmann::json::value_t::number_float: {
      // JSON.parse forgets "2.0" was written as a float; the reference then sees an integer.
      const double d = j.get<double>();
      return std::isfinite(d) && d == std::floor(d) ? Value::integer(d) : Value::floating(d);
    }
    case nlohmann::json::value_t::string: {
      // Strings are walked as UTF-8 (trim, case mapping, slicing); a caller's json can hold
      // any bytes, so they are checked here.
      const auto& s = j.get_ref<const std::string&>();
      if (!formats::is_valid_utf8(s)) throw std::invalid_argument("a string is not valid UTF-8");
      return Value::of(s);
    }
    case nlohmann::json::value_t::array: {
      ValueList items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(value_from_json(e));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      ValueMap entries;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!formats::is_valid_utf8(it.key())) throw std::invalid_argument("a key is not valid UTF-8");
        entries.emplace_back(it.key(), value_from_json(it.value()));
      }
      return Value::map(std::move(entries));
    }
    default: return Value::undefined();  // binary and discarded values: nothing a template can read
  }
}

std::string js_number_string(double n) {
  if (std::isnan(n)) return "NaN";
  if (std::isinf(n)) return n > 0 ? "Infinity" : "-Infinity";
  if (n == 0) return "0";
  char buf[64];
  const double a = std::fabs(n);
  if (a >= 1e-6 && a < 1e21) {
    auto r = std::to_chars(buf, buf + sizeof buf, n, std::chars_format::fixed);
    return std::string(buf, r.ptr);
  }
  auto r = std::to_chars(buf, buf + sizeof buf, n, std::chars_format::scientific);
  std::string s(buf, r.ptr);  // "1.5e-07" -> JavaScript's "1.5e-7", "1e+21" stays
  const size_t e = s.find('e');
  std::string mantissa = s.substr(0, e), exponent = s.substr(e + 1);
  const char sign = exponent[0];
  exponent = exponent.substr(1);
  while (exponent.size() > 1 && exponent[0] == '0') exponent.erase(0, 1);
  return mantissa + "e" + sign + exponent;
}

namespace {

std::string float_string(double n) {
  if (n == 0 && std::signbit(n)) return "-0.0";
  if (std::isfinite(n) && n == std::floor(n) && std::fabs(n) < 1e21) return js_number_string(n) + ".0";
  return js_number_string(n);
}

// JSON.stringify of a string; with ensure_ascii every UTF-16 unit above 0x7e as \uXXXX.
std::string quoted(std::string_view s, bool ensure_ascii) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80 || (ensure_ascii && c == 0x7f)) {
      const size_t start = i;
      char32_t cp = unicode::next_code_point(s, i);
      if (!ensure_ascii) {
        out.append(s.substr(start, i - start));
        continue;
      }
      auto unit = [&](unsigned u) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", u);
        out += buf;
      };
      if (cp >= 0x10000) {
        cp -= 0x10000;
        unit(0xD800 + (cp >> 10));
        unit(0xDC00 + (cp & 0x3FF));
      } else {
        unit(cp);
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

}  // namespace

std::string display_string(const Value& v) {
  switch (v.kind) {
    case Value::Kind::undefined: return "undefined";
    case Value::Kind::null: return "null";
    case Value::Kind::boolean: return v.boolean ? "true" : "false";
    case Value::Kind::integer: return js_number_string(v.number);
    case Value::Kind::floating: return float_string(v.number);
    case Value::Kind::string: return v.string;
    case Value::Kind::array:
    case Value::Kind::object:
    case Value::Kind::namespace_: {
      JsonTextOptions o;
      o.undefined_as_null = false;
      return json_text(v, o);
    }
    case Value::Kind::function: return "[function " + v.function_name + "]";
  }
  return "";
}

std::string json_text(const Value& v, const JsonTextOptions& o, int depth) {
  std::string item_sep = o.has_separators ? o.item_separator : (o.indent > 0 ? "," : ", ");
  std::string key_sep = o.has_separators ? o.key_separator : ": ";
  switch (v.kind) {
    case Value::Kind::undefined: return o.undefined_as_null ? "null" : "undefined";
    case Value::Kind::null: return "null";
    case Value::Kind::boolean: return v.boolean ? "true" : "false";
    case Value::Kind::integer:
    case Value::Kind::floating: return std::isfinite(v.number) ? js_number_string(v.number) : "null";
    case Value::Kind::string: return quoted(v.string, o.ensure_ascii);
    case Value::Kind::array:
    case Value::Kind::object:
    case Value::Kind::namespace_: {
      const std::string indent(static_cast<size_t>(o.indent), ' ');
      std::string base = "\n", child = "\n";
      for (int k = 0; k < depth; ++k) base += indent;
      child = base + indent;
      std::vector<std::string> parts;
      if (v.kind == Value::Kind::array) {
        for (const Value& e : *v.array) parts.push_back(json_text(e, o, depth + 1));
        if (o.indent > 0 && !parts.empty()) {
          std::string out = "[" + child;
          for (size_t i = 0; i < parts.size(); ++i) out += (i ? item_sep + child : "") + parts[i];
          return out + base + "]";
        }
        std::string out = "[";
        for (size_t i = 0; i < parts.size(); ++i) out += (i ? item_sep : "") + parts[i];
        return out + "]";
      }
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& e : *v.object) entries.push_back(&e);
      if (o.sort_keys) {
        // localeCompare in the reference; byte order agrees with it for ASCII keys.
        std::stable_sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
      }
      for (auto* e : entries) {
        std::string part = quoted(e->first, o.ensure_ascii) + key_sep + json_text(e->second, o, depth + 1);
        parts.push_back(o.indent > 0 ? child + part : part);
      }
      std::string out = "{";
      for (size_t i = 0; i < parts.size(); ++i) out += (i ? item_sep : "") + parts[i];
      return out + (o.indent > 0 && !parts.empty() ? base : "") + "}";
    }
    case Value::Kind::function: return "null";
  }
  return "null";
}

bool truthy(const Value& v) {
  switch (v.kind) {
    case Value::Kind::undefined:
    case Value::Kind::null: return false;
    case Value::Kind::boolean: return v.boolean;
    case Value::Kind::integer:
    case Value::Kind::floating: return v.number != 0 && !std::isnan(v.number);
    case Value::Kind::string: return !v.string.empty();
    case Value::Kind::array: return !v.array->empty();
    case Value::Kind::object: return !v.object->empty();
    case Value::Kind::namespace_:
    case Value::Kind::function: return true;
  }
  return false;
}

size_t utf16_length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) n += unicode::next_code_point(s, i) >= 0x10000 ? 2 : 1;
  return n;
}

}  // namespace sparq::runtime::chat_template_detail
