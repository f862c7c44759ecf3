// What a tensor is, independent of where its bytes live: name, shape, encoding and the
// encoding's parameters (formats/SPEC.md, sections 4 and 5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "formats/error.h"

namespace sparq::formats {

enum class Encoding : uint8_t {
  f32 = 0, f16 = 1, bf16 = 2, q8 = 3, q4 = 4, csr = 5, bsr = 6, bitmap = 7
};
enum class Compression : uint8_t { none = 0, zstd = 1 };

std::string_view encoding_name(Encoding e);
// csr, bsr and bitmap: zeros left out, the kept values stored in `TensorDesc::value_encoding`.
bool is_sparse_layout(Encoding e);
// Parses "f32", "q8", ...; returns false for an unknown name.
bool parse_encoding(std::string_view name, Encoding* out);

struct TensorDesc {
  std::string name;
  std::vector<uint64_t> dims;          // outermost first, rank 1..4
  Encoding encoding = Encoding::f32;
  Encoding value_encoding = Encoding::f32;  // csr / bsr / bitmap only
  uint32_t group_size = 0;             // q8 (0 = per row), q4 (32/64/128), bitmap (k·32)
  bool asymmetric = false;             // q4 only
  uint16_t block_rows = 0, block_cols = 0;  // bsr only
  uint64_t count = 0;                  // csr, bitmap: nnz; bsr: stored blocks

  uint64_t rows() const;               // product of all dims but the last (1 for rank 1)
  uint64_t cols() const;               // last dim
  uint64_t elements() const;
  std::string shape_string() const;    // "768x3072"
  std::string encoding_string() const; // "q4:g32:asym", "csr:q8", "bsr:q8:4x1", "bitmap:q8:g32"
};

// The encoding as stored, the way `sparq inspect` and `sparq convert` show it: "q8", or
// "q8+zstd" when the payload is compressed.
std::string stored_encoding_string(const TensorDesc& desc, Compression compression);

// Byte offsets of a payload's sections, relative to the payload start. A section that the
// encoding does not have has size 0. Every section starts at a multiple of 64.
struct Section {
  uint64_t offset = 0;
  uint64_t size = 0;
};
struct TensorLayout {
  Section values;      // dense values / q8 int8 / q4 nibbles / sparse values
  Section scales;      // q8, q4, csr(q8/q4), bsr(q8), bitmap
  Section mins;        // q4 asymmetric
  Section row_ptr;     // csr, bsr, bitmap
  Section col_idx;     // csr, bsr
  Section masks;       // bitmap: u32 words, kBitmapWordColumns columns each
  uint8_t row_ptr_width = 0;  // 4 or 8 bytes
  uint8_t col_idx_width = 0;  // 2 or 4 bytes
  uint64_t groups_per_row = 0;  // q8, q4, bitmap
  uint64_t words_per_row = 0;   // bitmap: ceil(cols / 32)
  uint64_t total_size = 0;      // raw_size: end of the last section
};

// Checks the descriptor's parameters are legal (rank, dims, group sizes, block shapes,
// counts) and computes its layout. Errors name the failed check, not the tensor (the
// caller adds that).
Result<TensorLayout> compute_layout(const TensorDesc& desc);

constexpr uint64_t kSectionAlign = 64;
// Columns one bitmap mask word covers (bit i of a word: column 32·word + i is stored).
constexpr uint64_t kBitmapWordColumns = 32;
constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace sparq::formats
