#include "runtime/convert/hf_files.h"

#include <sys/stat.h>

#include <filesystem>

#include <fmt/core.h>

namespace sparq::runtime::hf {

using nlohmann::json;
namespace fs = std::filesystem;

std::string join_path(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

bool entry_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Result<uint64_t> config_uint(const json& c, const std::string& file, const char* key, uint64_t fallback,
                             uint64_t lo, uint64_t hi) {
  if (!c.contains(key) || c[key].is_null()) return fallback;
  const json& v = c[key];
  if (!v.is_number_integer() || v.get<int64_t>() < static_cast<int64_t>(lo) || v.get<uint64_t>() > hi) {
    return Error(fmt::format("{}: {}: expected an integer in [{}, {}], got {}", file, key, lo, hi, v.dump()));
  }
  return v.get<uint64_t>();
}

Result<std::string> config_string(const json& c, const std::string& file, const char* key, const char* fallback) {
  if (!c.contains(key) || c[key].is_null()) return std::string(fallback);
  if (!c[key].is_string()) return Error(fmt::format("{}: {}: expected a string, got {}", file, key, c[key].dump()));
  return c[key].get<std::string>();
}

bool config_true(const json& c, const char* key) { return c.contains(key) && c[key].is_boolean() && c[key].get<bool>(); }

Error unsupported(const std::string& file, const std::string& field, const std::string& why) {
  return Error(fmt::format("{}: {}: {}", file, field, why), ErrorKind::unsupported);
}

}  // namespace sparq::runtime::hf
