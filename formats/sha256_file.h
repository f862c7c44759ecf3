// SHA-256 of a file's bytes, streamed, as lowercase hex: the provenance of converted
// models' sources, and what a shard manifest records of its output and `sparq merge` checks.
#pragma once

#include <cstdint>
#include <string>

#include "formats/error.h"

namespace sparq::formats {

// `bytes`, when given, receives the number of bytes hashed (the file size).
Result<std::string> sha256_file(const std::string& path, uint64_t* bytes = nullptr);

}  // namespace sparq::formats
