// q4: 4-bit nibbles, group-wise, symmetric (offset 8) or asymmetric (scale + min)
// (SPEC.md 5). Column c of a row is the low nibble of byte c/2 when c is even.
#include <fmt/format.h>

#include "formats/codec_internal.h"

namespace sparq::formats::codec {
namespace {

struct GroupParams {
  float scale = 0.0f;
  float min = 0.0f;
};

Result<GroupParams> asymmetric_params(std::span<const float> w) {
  const auto [lo, hi] = std::minmax_element(w.begin(), w.end());
  const float range = *hi - *lo;
  if (std::isinf(range)) return Error("q4 asymmetric group range overflows f32");
  return GroupParams{range / 15.0f, *lo};
}

void store_nibble(uint8_t* row, uint64_t c, int q) {
  row[c / 2] |= static_cast<uint8_t>(q << (c % 2 * 4));
}
int load_nibble(const uint8_t* row, uint64_t c) { return row[c / 2] >> (c % 2 * 4) & 0xf; }

}  // namespace

Status encode_q4(const TensorDesc& d, const TensorLayout& l, std::span<const float> values,
                 std::span<uint8_t> payload) {
  const uint64_t rows = d.rows(), cols = d.cols(), g = d.group_size, row_bytes = (cols + 1) / 2;
  uint8_t* scales = section(payload, l.scales);
  uint8_t* mins = section(payload, l.mins);
  uint8_t* nibbles = section(payload, l.values);
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t j = 0; j < l.groups_per_row; ++j) {
      const uint64_t begin = j * g, end = std::min(begin + g, cols);
      const std::span<const float> w = values.subspan(r * cols + begin, end - begin);
      GroupParams p;
      if (d.asymmetric) {
        Result<GroupParams> asym = asymmetric_params(w);
        if (!asym) return asym.error().within(fmt::format("row {} group {}", r, j));
        p = *asym;
        store(mins, r * l.groups_per_row + j, p.min);
      } else {
        p.scale = max_abs(w) / 7.0f;
      }
      store(scales, r * l.groups_per_row + j, p.scale);
      for (uint64_t c = begin; c < end; ++c) {
        const float v = values[r * cols + c];
        const int q =
            d.asymmetric ? quantize(v - p.min, p.scale, 0, 15) : quantize(v, p.scale, -8, 7) + 8;
        store_nibble(nibbles + r * row_bytes, c, q);
      }
    }
  }
  return {};
}

void decode_q4(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload,
               std::span<float> out) {
  const uint64_t rows = d.rows(), cols = d.cols(), g = d.group_size, row_bytes = (cols + 1) / 2;
  const uint8_t* scales = section(payload, l.scales);
  const uint8_t* mins = section(payload, l.mins);
  const uint8_t* nibbles = section(payload, l.values);
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t c = 0; c < cols; ++c) {
      const uint64_t group = r * l.groups_per_row + c / g;
      const float scale = load<float>(scales, group);
      const int q = load_nibble(nibbles + r * row_bytes, c);
      out[r * cols + c] = d.asymmetric ? static_cast<float>(q) * scale + load<float>(mins, group)
                                       : scale * static_cast<float>(q - 8);
    }
  }
}

}  // namespace sparq::formats::codec
