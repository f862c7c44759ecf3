// bitmap: per row, one u32 mask word per 32 columns marking the stored columns, the stored
// q8 or q4 (symmetric, offset 8) values packed in column order, and the scales of the dense
// q8/q4 groups (SPEC.md 5). A decoder row reads 1 bit per weight plus its stored values,
// which is what lets decode kernels read fewer bytes as sparsity grows.
#include <fmt/format.h>

#include "formats/codec_internal.h"

namespace sparq::formats::codec {
namespace {

bool is_q4(const TensorDesc& d) { return d.value_encoding == Encoding::q4; }

// Entry k of a q4 value stream: the low nibble of byte k/2 when k is even, else the high.
void store_q4(uint8_t* values, uint64_t k, int q) {
  values[k / 2] |= static_cast<uint8_t>(q << (k % 2 * 4));
}
int load_q4(const uint8_t* values, uint64_t k) { return values[k / 2] >> (k % 2 * 4) & 0xf; }

}  // namespace

Status encode_bitmap(const TensorDesc& d, const TensorLayout& l, std::span<const float> values,
                     std::span<uint8_t> payload) {
  const uint64_t rows = d.rows(), cols = d.cols(), g = d.group_size;
  const float qmax = is_q4(d) ? 7.0f : 127.0f;
  uint8_t* ptr = section(payload, l.row_ptr);
  uint8_t* masks = section(payload, l.masks);
  uint8_t* scales = section(payload, l.scales);
  uint8_t* out = section(payload, l.values);
  uint64_t k = 0;
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t j = 0; j < l.groups_per_row; ++j) {
      const uint64_t begin = j * g, end = std::min(begin + g, cols);
      const float scale = max_abs(values.subspan(r * cols + begin, end - begin)) / qmax;
      store(scales, r * l.groups_per_row + j, scale);
      for (uint64_t c = begin; c < end; ++c) {
        const float v = values[r * cols + c];
        if (v == 0.0f) continue;
        const uint64_t word = r * l.words_per_row + c / kBitmapWordColumns;
        store(masks, word, load<uint32_t>(masks, word) | uint32_t{1} << (c % kBitmapWordColumns));
        if (is_q4(d))
          store_q4(out, k, quantize(v, scale, -8, 7) + 8);
        else
          store(out, k, static_cast<int8_t>(quantize(v, scale, -127, 127)));
        ++k;
      }
    }
    store_index(ptr, r + 1, l.row_ptr_width, k);
  }
  return {};
}

void decode_bitmap(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload,
                   std::span<float> out) {
  const uint64_t rows = d.rows(), cols = d.cols(), g = d.group_size;
  const uint8_t* masks = section(payload, l.masks);
  const uint8_t* scales = section(payload, l.scales);
  const uint8_t* in = section(payload, l.values);
  std::fill(out.begin(), out.end(), 0.0f);
  uint64_t k = 0;
  for (uint64_t r = 0; r < rows; ++r) {
    for (uint64_t c = 0; c < cols; ++c) {
      const uint32_t word = load<uint32_t>(masks, r * l.words_per_row + c / kBitmapWordColumns);
      if ((word >> (c % kBitmapWordColumns) & 1) == 0) continue;
      const int q = is_q4(d) ? load_q4(in, k) - 8 : load<int8_t>(in, k);
      out[r * cols + c] = load<float>(scales, r * l.groups_per_row + c / g) * static_cast<float>(q);
      ++k;
    }
  }
}

Status validate_bitmap(const TensorDesc& d, const TensorLayout& l,
                       std::span<const uint8_t> payload) {
  const uint64_t rows = d.rows(), cols = d.cols();
  const uint8_t* ptr = section(payload, l.row_ptr);
  const uint8_t* masks = section(payload, l.masks);
  // Bits of the last word past the last column (none when cols is a multiple of 32).
  const uint64_t tail_bits = cols % kBitmapWordColumns;
  const uint32_t past_cols = tail_bits == 0 ? 0 : ~((uint32_t{1} << tail_bits) - 1);
  uint64_t begin = load_index(ptr, 0, l.row_ptr_width);
  if (begin != 0) return Error(fmt::format("bitmap row_ptr[0] is {}, not 0", begin));
  for (uint64_t r = 0; r < rows; ++r) {
    uint64_t stored = 0;
    for (uint64_t w = 0; w < l.words_per_row; ++w)
      stored += std::popcount(load<uint32_t>(masks, r * l.words_per_row + w));
    if (load<uint32_t>(masks, (r + 1) * l.words_per_row - 1) & past_cols)
      return Error(fmt::format("bitmap mask of row {} marks columns past {}", r, cols));
    // Compared before adding, so a hostile row_ptr cannot wrap around.
    const uint64_t end = load_index(ptr, r + 1, l.row_ptr_width);
    if (end < begin || end - begin != stored)
      return Error(fmt::format("bitmap row_ptr of row {} spans {} values, its mask marks {}", r,
                               static_cast<int64_t>(end - begin), stored));
    begin = end;
  }
  if (begin != d.count)
    return Error(fmt::format("bitmap row_ptr ends at {}, not count {}", begin, d.count));
  if (is_q4(d) && d.count % 2 == 1 && section(payload, l.values)[d.count / 2] >> 4 != 0)
    return Error("bitmap q4 unused high nibble of the last value byte is not 0");
  return validate_scales(payload, l.scales, l.groups_per_row, "bitmap scale");
}

}  // namespace sparq::formats::codec
