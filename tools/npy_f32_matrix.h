// The float32 row-major matrix files `sparq embed` writes (NumPy format 1.0, a fixed
// 128-byte header so the row count can be rewritten in place) and `sparq merge` joins.
#pragma once

#include <cstdint>
#include <string>

#include "formats/error.h"

namespace sparq::tools {

constexpr size_t kNpyF32HeaderBytes = 128;  // magic + version + length + dict, a multiple of 64

std::string npy_f32_header(uint64_t rows, uint64_t cols);

struct NpyF32Shape {
  uint64_t rows = 0, cols = 0;
};
// The shape from a header npy_f32_header() wrote; errors name `path`.
Result<NpyF32Shape> parse_npy_f32_header(const std::string& header, const std::string& path);

}  // namespace sparq::tools
