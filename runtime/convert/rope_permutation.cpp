#include "runtime/convert/rope_permutation.h"

#include <cstring>

namespace sparq::runtime {

std::vector<uint64_t> half_split_rows_from_interleaved(uint64_t heads, uint64_t head_dim) {
  const uint64_t half = head_dim / 2;
  std::vector<uint64_t> source(heads * head_dim);
  for (uint64_t h = 0; h < heads; ++h) {
    for (uint64_t i = 0; i < 2; ++i) {
      for (uint64_t j = 0; j < half; ++j) source[h * head_dim + i * half + j] = h * head_dim + 2 * j + i;
    }
  }
  return source;
}

std::vector<uint8_t> gather_rows(std::span<const uint8_t> data, uint64_t row_bytes,
                                 std::span<const uint64_t> source_rows) {
  std::vector<uint8_t> out(source_rows.size() * row_bytes);
  for (size_t r = 0; r < source_rows.size(); ++r) {
    std::memcpy(out.data() + r * row_bytes, data.data() + source_rows[r] * row_bytes, row_bytes);
  }
  return out;
}

}  // namespace sparq::runtime
