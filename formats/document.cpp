#include "formats/document.h"

#include <fmt/core.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#ifdef SPARQ_HAVE_YAML_CPP
#include <yaml-cpp/yaml.h>
#endif

namespace sparq::formats {
namespace {

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

nlohmann::json from_yaml(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& kv : node) j[kv.first.as<std::string>()] = from_yaml(kv.second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& item : node) j.push_back(from_yaml(item));
      return j;
    }
    case YAML::NodeType::Scalar:
      // yaml-cpp tags quoted (non-plain) scalars "!".
      return node.Tag() == "!" ? nlohmann::json(node.Scalar()) : plain_scalar(node.Scalar());
    default:
      return nullptr;
  }
}
#endif

}  // namespace

Result<nlohmann::json> parse_document(const std::string& text, const std::string& name, bool yaml) {
  if (!yaml) {
    try {
      return nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      return Error(fmt::format("{}: not valid JSON: {}", name, e.what()));
    }
  }
#ifdef SPARQ_HAVE_YAML_CPP
  try {
    return from_yaml(YAML::Load(text));
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
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(fmt::format("{}: cannot open", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_document(ss.str(), path, ends_with(path, ".yaml") || ends_with(path, ".yml"));
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
