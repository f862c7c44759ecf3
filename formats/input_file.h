// Reading what a user hands us by path, safely: only regular files (a FIFO would block
// open() forever, a device or directory never ends or fails late), never more than a
// stated size, and JSON with bounded nesting and no duplicate keys.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "formats/error.h"

namespace sparq::formats {

// Opens `path` read-only without blocking and checks it is a regular file; returns the
// descriptor (the caller closes it). Errors name the path and what it is instead.
Result<int> open_regular_file(const std::string& path);

// The whole file, refused when larger than `max_bytes` (the message names the limit).
Result<std::string> read_regular_file(const std::string& path, size_t max_bytes);

struct JsonLimits {
  // Deeper documents are refused: serialising and destroying nlohmann values recurses once
  // per level, and nothing sparq reads nests beyond a few levels.
  size_t max_depth = 64;
  size_t max_bytes = size_t{64} << 20;
};

// Parses JSON text from `name` (a path, or "line 12" of one), refusing documents over the
// limits, duplicate keys in any object (JSON leaves them undefined; nlohmann would keep the
// last silently) and numbers out of double range.
Result<nlohmann::json> parse_json(std::string_view text, const std::string& name, const JsonLimits& limits = {});

// read_regular_file + parse_json.
Result<nlohmann::json> load_json_file(const std::string& path, const JsonLimits& limits = {});

}  // namespace sparq::formats
