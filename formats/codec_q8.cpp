// q8: int8 symmetric with one f32 scale per row or per group of columns (SPEC.md 5).
#include "formats/codec_internal.h"

namespace sparq::formats::codec {
namespace {

uint64_t group_length(const TensorDesc& d) { return d.group_size == 0 ? d.cols() : d.group_size; }

}  // namespace

Status encode_q8(const TensorDesc& d, const TensorLayout& l, std::span<const float> values,
                 std::span<uint8_t> payload) {
  const uint64_t rows = d.rows(), cols = d.cols(), g = group_length(d);
  uint8_t* scales = section(payload, l.scales);
  uint8_t* q = section(payload, l.values);
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t j = 0; j < l.groups_per_row; ++j) {
      const uint64_t begin = r * cols + j * g, end = r * cols + std::min((j + 1) * g, cols);
      const float scale = max_abs(values.subspan(begin, end - begin)) / 127.0f;
      store(scales, r * l.groups_per_row + j, scale);
      for (uint64_t i = begin; i < end; ++i)
        store(q, i, static_cast<int8_t>(quantize(values[i], scale, -127, 127)));
    }
  }
  return {};
}

void decode_q8(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload,
               std::span<float> out) {
  const uint64_t rows = d.rows(), cols = d.cols(), g = group_length(d);
  const uint8_t* scales = section(payload, l.scales);
  const uint8_t* q = section(payload, l.values);
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t c = 0; c < cols; ++c) {
      const float scale = load<float>(scales, r * l.groups_per_row + c / g);
      out[r * cols + c] = scale * static_cast<float>(load<int8_t>(q, r * cols + c));
    }
  }
}

}  // namespace sparq::formats::codec
