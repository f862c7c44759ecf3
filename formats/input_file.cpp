#include "formats/input_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

namespace sparq::formats {
namespace {

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string json_path(const std::vector<std::string>& keys) {
  std::string path;
  for (const std::string& k : keys) path += (path.empty() ? "" : ".") + k;
  return path.empty() ? "the top level" : path;
}

}  // namespace

Result<int> open_regular_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Error(fmt::format("{}: cannot stat: {}", path, std::strerror(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error(fmt::format("{}: {}, not a regular file", path, file_kind(st.st_mode)));
  }
  // Reads of a regular file never block; clearing the flag keeps their semantics plain.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

Result<std::string> read_regular_file(const std::string& path, size_t max_bytes) {
  Result<int> fd = open_regular_file(path);
  if (!fd) return fd.error();
  struct stat st {};
  fstat(*fd, &st);
  if (uint64_t(st.st_size) > max_bytes) {
    ::close(*fd);
    return Error(fmt::format("{}: {} bytes, more than the limit of {} bytes for this kind of file", path,
                             uint64_t(st.st_size), max_bytes));
  }
  std::string text(size_t(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(*fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      ::close(*fd);
      return Error(fmt::format("{}: read failed: {}", path, err ? std::strerror(err) : "the file shrank"));
    }
    got += size_t(n);
  }
  ::close(*fd);
  return text;
}

Result<nlohmann::json> parse_json(std::string_view text, const std::string& name, const JsonLimits& limits) {
  using json = nlohmann::json;
  if (text.size() > limits.max_bytes) {
    return Error(fmt::format("{}: {} bytes of JSON, more than the limit of {}", name, text.size(), limits.max_bytes));
  }
  // The keys seen in each open object, and the path to it, to report a duplicate or the
  // place where nesting went too deep. Values past the depth limit are discarded as they
  // are parsed, so a hostile document costs no more memory than its limit allows.
  std::vector<std::set<std::string>> seen;
  std::vector<std::string> keys;
  std::string pending_key;
  std::optional<Error> error;
  json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
    if (error) return false;
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (size_t(depth) >= limits.max_depth) {
          error = Error(fmt::format("{}: nested deeper than {} levels (at {})", name, limits.max_depth,
                                    json_path(keys)));
          return false;
        }
        if (event == json::parse_event_t::object_start) seen.emplace_back();
        if (depth > 0) keys.push_back(pending_key.empty() ? "[]" : pending_key);
        pending_key.clear();
        return true;
      case json::parse_event_t::key: {
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!seen.empty() && !seen.back().insert(key).second) {
          error = Error(fmt::format("{}: key '{}' is listed twice in {}", name, key, json_path(keys)));
          return false;
        }
        pending_key = key;
        return true;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (event == json::parse_event_t::object_end && !seen.empty()) seen.pop_back();
        if (!keys.empty() && depth > 0) keys.pop_back();
        pending_key.clear();
        return true;
      case json::parse_event_t::value:
        pending_key.clear();
        return true;
    }
    return true;
  };
  json value;
  try {
    value = json::parse(text.begin(), text.end(), check);
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for a number beyond double (1e400).
    if (!error) return Error(fmt::format("{}: not valid JSON: {}", name, e.what()));
  }
  if (error) return *error;
  return value;
}

Result<nlohmann::json> load_json_file(const std::string& path, const JsonLimits& limits) {
  Result<std::string> text = read_regular_file(path, limits.max_bytes);
  if (!text) return text.error();
  return parse_json(*text, path, limits);
}

}  // namespace sparq::formats
