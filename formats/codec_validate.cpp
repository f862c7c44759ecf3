// Structural checks shared by several encodings (SPEC.md 6.5): finite scales and the
// compressed-row index of csr and bsr. Written for hostile input: every read is inside the
// section the layout sized, and pointers are range-checked before they are followed.
#include <fmt/format.h>

#include "formats/codec_internal.h"

namespace sparq::formats::codec {

Status validate_scales(std::span<const uint8_t> payload, const Section& s, uint64_t groups_per_row,
                       const char* what) {
  const uint8_t* scales = section(payload, s);
  const uint64_t n = s.size / sizeof(float);
  for (uint64_t i = 0; i < n; ++i) {
    if (std::isfinite(load<float>(scales, i))) continue;
    if (groups_per_row <= 1) return Error(fmt::format("{} of row {} is not finite", what, i));
    return Error(fmt::format("{} of row {} group {} is not finite", what, i / groups_per_row,
                             i % groups_per_row));
  }
  return {};
}

Status validate_compressed_index(std::span<const uint8_t> payload, const TensorLayout& l,
                                 uint64_t outer, uint64_t inner, uint64_t count,
                                 const CompressedIndexNames& names) {
  const uint8_t* ptr = section(payload, l.row_ptr);
  const uint8_t* idx = section(payload, l.col_idx);
  uint64_t begin = load_index(ptr, 0, l.row_ptr_width);
  if (begin != 0) return Error(fmt::format("{}[0] is {}, not 0", names.ptr, begin));
  for (uint64_t r = 0; r < outer; ++r) {
    const uint64_t end = load_index(ptr, r + 1, l.row_ptr_width);
    if (end < begin) return Error(fmt::format("{} decreases at {} {}", names.ptr, names.outer, r));
    if (end > count)
      return Error(
          fmt::format("{} past count {} at {} {} ({})", names.ptr, count, names.outer, r, end));
    uint64_t previous = 0;
    for (uint64_t k = begin; k < end; ++k) {
      const uint64_t c = load_index(idx, k, l.col_idx_width);
      if (c >= inner)
        return Error(fmt::format("{} out of range in {} {} ({} >= {})", names.idx, names.outer, r,
                                 c, inner));
      if (k > begin && c <= previous)
        return Error(fmt::format("{} not increasing in {} {}", names.idx, names.outer, r));
      previous = c;
    }
    begin = end;
  }
  if (begin != count)
    return Error(fmt::format("{} ends at {}, not count {}", names.ptr, begin, count));
  return {};
}

}  // namespace sparq::formats::codec
