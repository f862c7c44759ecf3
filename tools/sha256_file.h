// SHA-256 of a file's bytes, streamed, as lowercase hex: what a shard manifest records of
// its output and what `sparq merge` checks.
#pragma once

#include <string>

#include "formats/error.h"

namespace sparq::tools {

Result<std::string> sha256_file(const std::string& path);

}  // namespace sparq::tools
