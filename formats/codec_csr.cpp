// csr: compressed sparse rows over the non-zeros of the matrix, values stored as f32, f16,
// q8 or q4 (symmetric, offset 8) with one scale per row (SPEC.md 5).
#include <fmt/format.h>

#include "formats/codec_internal.h"
#include "formats/float16.h"

namespace sparq::formats::codec {
namespace {

constexpr CompressedIndexNames kNames{"csr row_ptr", "csr col_idx", "row"};

// Quantized values use one symmetric scale per row: q8 in -127..127, q4 in -8..7.
int quantized_max(Encoding e) { return e == Encoding::q8 ? 127 : 7; }

}  // namespace

uint64_t count_csr_entries(std::span<const float> values) {
  return static_cast<uint64_t>(
      std::count_if(values.begin(), values.end(), [](float v) { return v != 0.0f; }));
}

Status encode_csr(const TensorDesc& d, const TensorLayout& l, std::span<const float> values,
                  std::span<uint8_t> payload) {
  const uint64_t rows = d.rows(), cols = d.cols();
  const Encoding ve = d.value_encoding;
  const bool quantized = ve == Encoding::q8 || ve == Encoding::q4;
  uint8_t* ptr = section(payload, l.row_ptr);
  uint8_t* idx = section(payload, l.col_idx);
  uint8_t* scales = section(payload, l.scales);
  uint8_t* out = section(payload, l.values);
  uint64_t k = 0;
  for (uint64_t r = 0; r < rows; ++r) {
    const std::span<const float> row = values.subspan(r * cols, cols);
    float scale = 0.0f;
    if (quantized) {
      scale = max_abs(row) / static_cast<float>(quantized_max(ve));
      store(scales, r, scale);
    }
    for (uint64_t c = 0; c < cols; ++c) {
      const float v = row[c];
      if (v == 0.0f) continue;
      store_index(idx, k, l.col_idx_width, c);
      switch (ve) {
        case Encoding::f32: store(out, k, v); break;
        case Encoding::f16:
          if (Status s = check_half_range(v, ve, r * cols + c); !s) return s;
          store(out, k, f32_to_f16(v));
          break;
        case Encoding::q8: store(out, k, static_cast<int8_t>(quantize(v, scale, -127, 127))); break;
        case Encoding::q4:
          out[k / 2] |= static_cast<uint8_t>((quantize(v, scale, -8, 7) + 8) << (k % 2 * 4));
          break;
        default: break;
      }
      ++k;
    }
    store_index(ptr, r + 1, l.row_ptr_width, k);
  }
  return {};
}

void decode_csr(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload,
                std::span<float> out) {
  const uint64_t rows = d.rows(), cols = d.cols();
  const uint8_t* ptr = section(payload, l.row_ptr);
  const uint8_t* idx = section(payload, l.col_idx);
  const uint8_t* scales = section(payload, l.scales);
  const uint8_t* in = section(payload, l.values);
  std::fill(out.begin(), out.end(), 0.0f);
  for (uint64_t r = 0; r < rows; ++r) {
    const uint64_t begin = load_index(ptr, r, l.row_ptr_width);
    const uint64_t end = load_index(ptr, r + 1, l.row_ptr_width);
    for (uint64_t k = begin; k < end; ++k) {
      float v = 0.0f;
      switch (d.value_encoding) {
        case Encoding::f32: v = load<float>(in, k); break;
        case Encoding::f16: v = f16_to_f32(load<uint16_t>(in, k)); break;
        case Encoding::q8:
          v = load<float>(scales, r) * static_cast<float>(load<int8_t>(in, k));
          break;
        case Encoding::q4:
          v = load<float>(scales, r) * static_cast<float>((in[k / 2] >> (k % 2 * 4) & 0xf) - 8);
          break;
        default: break;
      }
      out[r * cols + load_index(idx, k, l.col_idx_width)] = v;
    }
  }
}

Status validate_csr(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload) {
  if (Status s = validate_compressed_index(payload, l, d.rows(), d.cols(), d.count, kNames); !s)
    return s;
  return validate_scales(payload, l.scales, 1, "csr scale");
}

}  // namespace sparq::formats::codec
