// The files of a Hugging Face checkpoint directory and the fields of its JSON files, read
// with errors that name the file and the field.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "formats/error.h"

namespace sparq::runtime::hf {

std::string join_path(const std::string& dir, const std::string& name);
// Whether anything is at `path`: a file, but also a directory, a device, a FIFO or a broken or
// looping symlink, so that opening it reports what it is instead of "no such file".
bool entry_exists(const std::string& path);

// A config field: integer in [lo, hi], or `fallback` (Hugging Face's default) when absent.
Result<uint64_t> config_uint(const nlohmann::json& c, const std::string& file, const char* key, uint64_t fallback,
                             uint64_t lo = 1, uint64_t hi = uint64_t{1} << 24);
Result<std::string> config_string(const nlohmann::json& c, const std::string& file, const char* key,
                                  const char* fallback);
bool config_true(const nlohmann::json& c, const char* key);

// A field whose value sparq does not support (ErrorKind::unsupported).
Error unsupported(const std::string& file, const std::string& field, const std::string& why);

}  // namespace sparq::runtime::hf
