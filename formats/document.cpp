#include "formats/document.h"

#include "formats/input_file.h"
#include "formats/utf8.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#ifdef SPARQ_HAVE_YAML_CPP
#include <yaml-cpp/yaml.h>
#endif

namespace sparq::formats {
namespace {

// Workloads, recipes, catalogs and reports are small and shallow.
constexpr JsonLimits kDocumentLimits{.max_depth = 32, .max_bytes = size_t{16} << 20};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

#ifdef SPARQ_HAVE_YAML_CPP
nlohmann::json plain_scalar(const std::string& s) {
  if (s == "true" || s == "True") return true;
  if (s == "false" || s == "False") return false;
  if (s.empty() || s == "~" || s == "null") return nullptr;
  double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec == std::errc() && end == s.data() + s.size()) {
    long long i = 0;
    auto [iend, iec] = std::from_chars(s.data(), s.data() + s.size(), i);
    if (iec == std::errc() && iend == s.data() + s.size()) return i;
    return d;
  }
  return s;
}

// YAML -> JSON with the same bounds as JSON documents. Aliases are shared nodes in yaml-cpp
// and copies in JSON, so a few anchors each listing the previous one many times ("billion
// laughs") expand exponentially: a budget on the values produced stops that early.
class YamlToJson {
 public:
  YamlToJson(const std::string& name, size_t max_depth) : name_(name), max_depth_(max_depth) {}

  // Scalars and keys must be UTF-8 like JSON text: yaml-cpp passes any byte of a plain or
  // quoted scalar through, and a message quoting the value would then throw from
  // nlohmann::json::dump (found by tests/fuzz/workload_and_recipe_fuzz.cpp).
  Status check_utf8(const YAML::Node& scalar) const {
    if (is_valid_utf8(scalar.Scalar())) return {};
    return Error(fmt::format("{}: line {}, column {}: not valid UTF-8", name_, scalar.Mark().line + 1,
                             scalar.Mark().column + 1));
  }

  Result<nlohmann::json> convert(const YAML::Node& node, size_t depth = 0) {
    if (budget_ == 0) {
      return Error(fmt::format("{}: expands to more than {} values (aliases repeated too often?)", name_,
                               kMaxYamlValues));
    }
    --budget_;
    switch (node.Type()) {
      case YAML::NodeType::Map:
      case YAML::NodeType::Sequence: {
        if (depth >= max_depth_) {
          return Error(fmt::format("{}: line {}: nested deeper than {} levels", name_, node.Mark().line + 1,
                                   max_depth_));
        }
        const bool map = node.Type() == YAML::NodeType::Map;
        nlohmann::json j = map ? nlohmann::json::object() : nlohmann::json::array();
        for (const auto& item : node) {
          Result<nlohmann::json> value = convert(map ? item.second : item, depth + 1);
          if (!value) return value.error();
          if (!map) {
            j.push_back(std::move(*value));
            continue;
          }
          if (Status s = check_utf8(item.first); !s) return s.error();
          const std::string key = item.first.as<std::string>();
          if (j.contains(key)) {
            return Error(fmt::format("{}: line {}: key \"{}\" is listed twice", name_, item.first.Mark().line + 1,
                                     key));
          }
          j[key] = std::move(*value);
        }
        return j;
      }
      case YAML::NodeType::Scalar:
        if (Status s = check_utf8(node); !s) return s.error();
        // yaml-cpp tags quoted (non-plain) scalars "!".
        return node.Tag() == "!" ? nlohmann::json(node.Scalar()) : plain_scalar(node.Scalar());
      default:
        return nlohmann::json(nullptr);
    }
  }

  static constexpr size_t kMaxYamlValues = 1'000'000;

 private:
  const std::string& name_;
  size_t max_depth_, budget_ = kMaxYamlValues;
};
#endif

}  // namespace

Result<nlohmann::json> parse_document(const std::string& text, const std::string& name, bool yaml) {
  if (!yaml) return parse_json(text, name, kDocumentLimits);
#ifdef SPARQ_HAVE_YAML_CPP
  try {
    return YamlToJson(name, kDocumentLimits.max_depth).convert(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    return Error(fmt::format("{}: not valid YAML: line {}, column {}: {}", name, e.mark.line + 1,
                             e.mark.column + 1, e.msg));
  }
#else
  return Error(fmt::format("{}: this sparq was built without YAML support (yaml-cpp); give the "
                           "document as JSON",
                           name),
               ErrorKind::unsupported);
#endif
}

Result<nlohmann::json> load_document(const std::string& path) {
  Result<std::string> text = read_regular_file(path, kDocumentLimits.max_bytes);
  if (!text) return text.error();
  return parse_document(*text, path, ends_with(path, ".yaml") || ends_with(path, ".yml"));
}

Fields::Fields(const nlohmann::json& object, std::string file, std::string path)
    : object_(&object), file_(std::move(file)), path_(std::move(path)) {}

std::string Fields::where(const std::string& key) const {
  return fmt::format("{}: {}{}", file_, path_.empty() ? "" : path_ + ".", key);
}

Error Fields::error(const std::string& key, const std::string& what) const {
  return Error(fmt::format("{}: {}", where(key), what));
}

bool Fields::has(const std::string& key) const {
  return object_->contains(key) && !object_->at(key).is_null();
}

Result<double> Fields::number(const std::string& key) const {
  if (!has(key)) return error(key, "missing (a number is required)");
  const nlohmann::json& v = object_->at(key);
  if (!v.is_number()) return error(key, fmt::format("must be a number, got {}", v.dump()));
  double d = v.get<double>();
  if (!std::isfinite(d) || d < 0) return error(key, fmt::format("must be >= 0, got {}", v.dump()));
  return d;
}

Result<double> Fields::number_or(const std::string& key, double fallback) const {
  return has(key) ? number(key) : Result<double>(fallback);
}

Result<double> Fields::number_in(const std::string& key, double lo, double hi, double fallback) const {
  if (!has(key)) return fallback;
  const nlohmann::json& v = object_->at(key);
  if (!v.is_number()) return error(key, fmt::format("must be a number, got {}", v.dump()));
  double d = v.get<double>();
  if (!std::isfinite(d) || d < lo || d > hi) {
    return error(key, fmt::format("must be between {:g} and {:g}, got {}", lo, hi, v.dump()));
  }
  return d;
}

Status Fields::only_keys(std::span<const std::string_view> known) const {
  for (const auto& [key, value] : object_->items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string hint = closest_name(key, known);
    return error(key, hint.empty() ? std::string("unknown key") : fmt::format("unknown key (did you mean {}?)", hint));
  }
  return {};
}

std::string closest_name(std::string_view word, std::span<const std::string_view> candidates) {
  std::string_view best;
  size_t best_distance = std::string::npos;
  std::vector<size_t> row(word.size() + 1);
  for (std::string_view c : candidates) {
    // Levenshtein distance, one row at a time.
    for (size_t i = 0; i <= word.size(); ++i) row[i] = i;
    for (size_t j = 1; j <= c.size(); ++j) {
      size_t diagonal = row[0];
      row[0] = j;
      for (size_t i = 1; i <= word.size(); ++i) {
        size_t substitution = diagonal + (word[i - 1] == c[j - 1] ? 0 : 1);
        diagonal = row[i];
        row[i] = std::min({substitution, row[i] + 1, row[i - 1] + 1});
      }
    }
    if (row[word.size()] < best_distance) {
      best_distance = row[word.size()];
      best = c;
    }
  }
  if (best.empty() || best_distance * 3 > std::max(word.size(), best.size())) return "";
  return std::string(best);
}

Result<std::string> Fields::text(const std::string& key) const {
  if (!has(key)) return error(key, "missing (a string is required)");
  const nlohmann::json& v = object_->at(key);
  if (!v.is_string()) return error(key, fmt::format("must be a string, got {}", v.dump()));
  return v.get<std::string>();
}

Result<std::string> Fields::text_or(const std::string& key, const std::string& fallback) const {
  return has(key) ? text(key) : Result<std::string>(fallback);
}

Result<Fields> Fields::object(const std::string& key) const {
  if (!has(key)) return error(key, "missing (an object is required)");
  const nlohmann::json& v = object_->at(key);
  if (!v.is_object()) return error(key, fmt::format("must be an object, got {}", v.type_name()));
  return Fields(v, file_, path_.empty() ? key : path_ + "." + key);
}

Fields FirstError::get(Result<Fields> r) {
  static const nlohmann::json empty = nlohmann::json::object();
  if (r) return std::move(r).value();
  if (!error) error = r.error();
  return Fields(empty, "");
}

Result<Fields> top_level(const nlohmann::json& document, const std::string& file) {
  if (!document.is_object())
    return Error(fmt::format("{}: the top level must be an object, got {}", file, document.type_name()));
  return Fields(document, file);
}

}  // namespace sparq::formats
