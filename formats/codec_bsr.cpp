// bsr: block-sparse rows. The matrix is tiled into block_rows x block_cols blocks; every
// block holding a non-zero is stored whole (row-major inside the block), edge blocks
// zero-padded past the matrix. Values f32, or q8 with one scale per matrix row (SPEC.md 5).
#include <fmt/format.h>

#include "formats/codec_internal.h"

namespace sparq::formats::codec {
namespace {

constexpr CompressedIndexNames kNames{"bsr block_row_ptr", "bsr block_col_idx", "block row"};

// The matrix and its block grid; `visit(i, j, r, c)` walks the in-matrix elements of block
// (br, bc): (i, j) inside the block, (r, c) in the matrix.
struct BlockGrid {
  uint64_t rows, cols, bh, bw, block_rows, block_cols;

  explicit BlockGrid(const TensorDesc& d)
      : rows(d.rows()),
        cols(d.cols()),
        bh(d.block_rows),
        bw(d.block_cols),
        block_rows((rows + bh - 1) / bh),
        block_cols((cols + bw - 1) / bw) {}

  uint64_t area() const { return bh * bw; }
  bool is_edge(uint64_t br, uint64_t bc) const {
    return (br + 1) * bh > rows || (bc + 1) * bw > cols;
  }
  template <class F>
  void visit(uint64_t br, uint64_t bc, F&& f) const {
    for (uint64_t i = 0; i < bh && br * bh + i < rows; ++i)
      for (uint64_t j = 0; j < bw && bc * bw + j < cols; ++j) f(i, j, br * bh + i, bc * bw + j);
  }
  bool has_nonzero(std::span<const float> values, uint64_t br, uint64_t bc) const {
    bool any = false;
    visit(br, bc,
          [&](uint64_t, uint64_t, uint64_t r, uint64_t c) { any |= values[r * cols + c] != 0.0f; });
    return any;
  }
};

uint64_t value_width(const TensorDesc& d) { return d.value_encoding == Encoding::q8 ? 1 : 4; }

}  // namespace

uint64_t count_bsr_blocks(const TensorDesc& d, std::span<const float> values) {
  const BlockGrid g(d);
  uint64_t n = 0;
  for (uint64_t br = 0; br < g.block_rows; ++br)
    for (uint64_t bc = 0; bc < g.block_cols; ++bc) n += g.has_nonzero(values, br, bc);
  return n;
}

Status encode_bsr(const TensorDesc& d, const TensorLayout& l, std::span<const float> values,
                  std::span<uint8_t> payload) {
  const BlockGrid g(d);
  const bool q8 = d.value_encoding == Encoding::q8;
  uint8_t* ptr = section(payload, l.row_ptr);
  uint8_t* idx = section(payload, l.col_idx);
  uint8_t* scales = section(payload, l.scales);
  uint8_t* out = section(payload, l.values);
  if (q8)
    for (uint64_t r = 0; r < g.rows; ++r)
      store(scales, r, max_abs(values.subspan(r * g.cols, g.cols)) / 127.0f);
  uint64_t k = 0;
  for (uint64_t br = 0; br < g.block_rows; ++br) {
    for (uint64_t bc = 0; bc < g.block_cols; ++bc) {
      if (!g.has_nonzero(values, br, bc)) continue;
      store_index(idx, k, l.col_idx_width, bc);
      g.visit(br, bc, [&](uint64_t i, uint64_t j, uint64_t r, uint64_t c) {
        const uint64_t at = k * g.area() + i * g.bw + j;
        const float v = values[r * g.cols + c];
        if (q8)
          store(out, at, static_cast<int8_t>(quantize(v, load<float>(scales, r), -127, 127)));
        else
          store(out, at, v);
      });
      ++k;
    }
    store_index(ptr, br + 1, l.row_ptr_width, k);
  }
  return {};
}

void decode_bsr(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload,
                std::span<float> out) {
  const BlockGrid g(d);
  const bool q8 = d.value_encoding == Encoding::q8;
  const uint8_t* ptr = section(payload, l.row_ptr);
  const uint8_t* idx = section(payload, l.col_idx);
  const uint8_t* scales = section(payload, l.scales);
  const uint8_t* in = section(payload, l.values);
  std::fill(out.begin(), out.end(), 0.0f);
  for (uint64_t br = 0; br < g.block_rows; ++br) {
    const uint64_t end = load_index(ptr, br + 1, l.row_ptr_width);
    for (uint64_t k = load_index(ptr, br, l.row_ptr_width); k < end; ++k) {
      g.visit(br, load_index(idx, k, l.col_idx_width),
              [&](uint64_t i, uint64_t j, uint64_t r, uint64_t c) {
                const uint64_t at = k * g.area() + i * g.bw + j;
                out[r * g.cols + c] =
                    q8 ? load<float>(scales, r) * static_cast<float>(load<int8_t>(in, at))
                       : load<float>(in, at);
              });
    }
  }
}

Status validate_bsr(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload) {
  const BlockGrid g(d);
  if (Status s = validate_compressed_index(payload, l, g.block_rows, g.block_cols, d.count, kNames);
      !s)
    return s;
  if (Status s = validate_scales(payload, l.scales, 1, "bsr scale"); !s) return s;
  const uint8_t* ptr = section(payload, l.row_ptr);
  const uint8_t* idx = section(payload, l.col_idx);
  const uint8_t* values = section(payload, l.values);
  const uint64_t width = value_width(d);
  for (uint64_t br = 0; br < g.block_rows; ++br) {
    const uint64_t end = load_index(ptr, br + 1, l.row_ptr_width);
    for (uint64_t k = load_index(ptr, br, l.row_ptr_width); k < end; ++k) {
      const uint64_t bc = load_index(idx, k, l.col_idx_width);
      if (!g.is_edge(br, bc)) continue;
      for (uint64_t i = 0; i < g.bh; ++i) {
        for (uint64_t j = 0; j < g.bw; ++j) {
          if (br * g.bh + i < g.rows && bc * g.bw + j < g.cols) continue;
          const uint8_t* e = values + (k * g.area() + i * g.bw + j) * width;
          if (std::any_of(e, e + width, [](uint8_t b) { return b != 0; }))
            return Error(fmt::format(
                "bsr edge block padding not zero in block row {} (block col {})", br, bc));
        }
      }
    }
  }
  return {};
}

}  // namespace sparq::formats::codec
