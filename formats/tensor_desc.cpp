#include "formats/tensor_desc.h"

#include <fmt/format.h>

#include <array>

namespace sparq::formats {
namespace {

constexpr std::array<std::string_view, 8> kEncodingNames = {"f32", "f16", "bf16", "q8",
                                                            "q4",  "csr", "bsr", "bitmap"};
constexpr uint64_t kMaxElements = uint64_t{1} << 62;
constexpr uint64_t kMaxBlockSide = 256;

bool is_known(Encoding e) { return static_cast<size_t>(e) < kEncodingNames.size(); }

std::string_view name_or_code(Encoding e, std::string& scratch) {
  if (is_known(e)) return encoding_name(e);
  scratch = fmt::format("#{}", static_cast<unsigned>(e));
  return scratch;
}

uint64_t product(const std::vector<uint64_t>& dims, size_t begin, size_t end) {
  uint64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= dims[i];
  return p;
}

// Lays out sections back to back, each at the next multiple of 64. Sizes are computed with
// overflow checks because counts come from untrusted files.
class LayoutBuilder {
 public:
  // Adds a section of `count` items of `width` bytes; false if the sizes overflow.
  bool add(Section* s, uint64_t count, uint64_t width) {
    uint64_t size = 0, start = 0, end = 0;
    if (__builtin_mul_overflow(count, width, &size) ||
        __builtin_add_overflow(end_, kSectionAlign - 1, &start))
      return false;
    start = start / kSectionAlign * kSectionAlign;
    if (__builtin_add_overflow(start, size, &end)) return false;
    *s = {start, size};
    end_ = end;
    return true;
  }
  uint64_t end() const { return end_; }

 private:
  uint64_t end_ = 0;
};

Status check_zero_fields(const TensorDesc& d, bool group_ok, bool asym_ok, bool block_ok,
                         bool count_ok, bool value_encoding_ok) {
  std::string_view enc = encoding_name(d.encoding);
  if (!group_ok && d.group_size != 0) return Error(fmt::format("group_size must be 0 for {}", enc));
  if (!asym_ok && d.asymmetric) return Error(fmt::format("asymmetric must be 0 for {}", enc));
  if (!block_ok && (d.block_rows != 0 || d.block_cols != 0))
    return Error(fmt::format("block_rows/block_cols must be 0 for {}", enc));
  if (!count_ok && d.count != 0) return Error(fmt::format("count must be 0 for {}", enc));
  if (!value_encoding_ok && d.value_encoding != Encoding::f32)
    return Error(fmt::format("value_encoding must be 0 for {}", enc));
  return {};
}

Status check_value_encoding(const TensorDesc& d, std::initializer_list<Encoding> allowed) {
  for (Encoding e : allowed)
    if (d.value_encoding == e) return {};
  std::string scratch;
  return Error(fmt::format("value_encoding {} not allowed for {}",
                           name_or_code(d.value_encoding, scratch), encoding_name(d.encoding)));
}

uint64_t value_width(Encoding e) {
  switch (e) {
    case Encoding::f32: return 4;
    case Encoding::f16:
    case Encoding::bf16: return 2;
    default: return 1;
  }
}

}  // namespace

bool is_sparse_layout(Encoding e) { return e == Encoding::csr || e == Encoding::bsr || e == Encoding::bitmap; }

std::string_view encoding_name(Encoding e) {
  return is_known(e) ? kEncodingNames[static_cast<size_t>(e)] : std::string_view("unknown");
}

bool parse_encoding(std::string_view name, Encoding* out) {
  for (size_t i = 0; i < kEncodingNames.size(); ++i) {
    if (kEncodingNames[i] == name) {
      *out = static_cast<Encoding>(i);
      return true;
    }
  }
  return false;
}

uint64_t TensorDesc::rows() const {
  return dims.size() <= 1 ? 1 : product(dims, 0, dims.size() - 1);
}
uint64_t TensorDesc::cols() const { return dims.empty() ? 0 : dims.back(); }
uint64_t TensorDesc::elements() const { return product(dims, 0, dims.size()); }

std::string TensorDesc::shape_string() const { return fmt::format("{}", fmt::join(dims, "x")); }

std::string TensorDesc::encoding_string() const {
  std::string scratch;
  std::string s(name_or_code(encoding, scratch));
  switch (encoding) {
    case Encoding::q8:
      if (group_size != 0) s += fmt::format(":g{}", group_size);
      break;
    case Encoding::q4:
      s += fmt::format(":g{}", group_size);
      if (asymmetric) s += ":asym";
      break;
    case Encoding::csr: s += fmt::format(":{}", name_or_code(value_encoding, scratch)); break;
    case Encoding::bsr:
      s += fmt::format(":{}:{}x{}", name_or_code(value_encoding, scratch), block_rows, block_cols);
      break;
    case Encoding::bitmap:
      s += fmt::format(":{}:g{}", name_or_code(value_encoding, scratch), group_size);
      break;
    default: break;
  }
  return s;
}

std::string stored_encoding_string(const TensorDesc& desc, Compression compression) {
  return desc.encoding_string() + (compression == Compression::zstd ? "+zstd" : "");
}

Result<TensorLayout> compute_layout(const TensorDesc& d) {
  if (!is_known(d.encoding))
    return Error(fmt::format("unknown encoding {}", static_cast<unsigned>(d.encoding)));
  if (d.dims.empty() || d.dims.size() > 4)
    return Error(fmt::format("rank {} not in 1..4", d.dims.size()));
  uint64_t elements = 1;
  for (size_t i = 0; i < d.dims.size(); ++i) {
    if (d.dims[i] == 0) return Error(fmt::format("dim {} is 0", i));
    if (__builtin_mul_overflow(elements, d.dims[i], &elements) || elements >= kMaxElements)
      return Error("element count does not fit in 2^62");
  }
  const uint64_t rows = d.rows(), cols = d.cols();

  TensorLayout l;
  LayoutBuilder b;
  bool fits = true;
  switch (d.encoding) {
    case Encoding::f32:
    case Encoding::f16:
    case Encoding::bf16: {
      if (Status s = check_zero_fields(d, false, false, false, false, false); !s) return s.error();
      fits = b.add(&l.values, elements, value_width(d.encoding));
      break;
    }
    case Encoding::q8: {
      if (Status s = check_zero_fields(d, true, false, false, false, false); !s) return s.error();
      const uint64_t g = d.group_size == 0 ? cols : d.group_size;
      l.groups_per_row = (cols + g - 1) / g;
      fits = b.add(&l.scales, rows * l.groups_per_row, 4) && b.add(&l.values, elements, 1);
      break;
    }
    case Encoding::q4: {
      if (Status s = check_zero_fields(d, true, true, false, false, false); !s) return s.error();
      if (d.group_size != 32 && d.group_size != 64 && d.group_size != 128)
        return Error(fmt::format("q4 group_size {} not 32, 64 or 128", d.group_size));
      l.groups_per_row = (cols + d.group_size - 1) / d.group_size;
      fits = b.add(&l.scales, rows * l.groups_per_row, 4) &&
             (!d.asymmetric || b.add(&l.mins, rows * l.groups_per_row, 4)) &&
             b.add(&l.values, rows * ((cols + 1) / 2), 1);
      break;
    }
    case Encoding::csr: {
      if (Status s = check_zero_fields(d, false, false, false, true, true); !s) return s.error();
      if (Status s =
              check_value_encoding(d, {Encoding::f32, Encoding::f16, Encoding::q8, Encoding::q4});
          !s)
        return s.error();
      if (d.count > elements)
        return Error(fmt::format("csr nnz {} exceeds rows*cols {}", d.count, elements));
      const uint64_t nnz = d.count;
      l.row_ptr_width = nnz < (uint64_t{1} << 32) ? 4 : 8;
      l.col_idx_width = cols <= 65536 ? 2 : 4;
      const bool quantized = d.value_encoding == Encoding::q8 || d.value_encoding == Encoding::q4;
      fits =
          b.add(&l.row_ptr, rows + 1, l.row_ptr_width) && b.add(&l.col_idx, nnz, l.col_idx_width) &&
          (!quantized || b.add(&l.scales, rows, 4)) &&
          (d.value_encoding == Encoding::q4 ? b.add(&l.values, (nnz + 1) / 2, 1)
                                            : b.add(&l.values, nnz, value_width(d.value_encoding)));
      break;
    }
    case Encoding::bsr: {
      if (Status s = check_zero_fields(d, false, false, true, true, true); !s) return s.error();
      if (Status s = check_value_encoding(d, {Encoding::f32, Encoding::q8}); !s) return s.error();
      if (d.block_rows < 1 || d.block_rows > kMaxBlockSide || d.block_cols < 1 ||
          d.block_cols > kMaxBlockSide)
        return Error(
            fmt::format("bsr block shape {}x{} not in 1..256", d.block_rows, d.block_cols));
      const uint64_t block_row_count = (rows + d.block_rows - 1) / d.block_rows;
      const uint64_t block_col_count = (cols + d.block_cols - 1) / d.block_cols;
      // Cannot overflow: each factor is at most the matching matrix side.
      const uint64_t max_blocks = block_row_count * block_col_count;
      if (d.count > max_blocks)
        return Error(fmt::format("bsr nblocks {} exceeds block grid {}", d.count, max_blocks));
      l.row_ptr_width = d.count < (uint64_t{1} << 32) ? 4 : 8;
      l.col_idx_width = block_col_count <= 65536 ? 2 : 4;
      const uint64_t area = uint64_t{d.block_rows} * d.block_cols;
      uint64_t entries = 0;
      fits = !__builtin_mul_overflow(d.count, area, &entries) &&
             b.add(&l.row_ptr, block_row_count + 1, l.row_ptr_width) &&
             b.add(&l.col_idx, d.count, l.col_idx_width) &&
             (d.value_encoding != Encoding::q8 || b.add(&l.scales, rows, 4)) &&
             b.add(&l.values, entries, value_width(d.value_encoding));
      break;
    }
    case Encoding::bitmap: {
      if (Status s = check_zero_fields(d, true, false, false, true, true); !s) return s.error();
      if (Status s = check_value_encoding(d, {Encoding::q8, Encoding::q4}); !s) return s.error();
      const bool q4 = d.value_encoding == Encoding::q4;
      if (q4 ? (d.group_size != 32 && d.group_size != 64 && d.group_size != 128)
             : (d.group_size == 0 || d.group_size % kBitmapWordColumns != 0))
        return Error(fmt::format("bitmap:{} group_size {} not {}", encoding_name(d.value_encoding),
                                 d.group_size, q4 ? "32, 64 or 128" : "a multiple of 32"));
      if (d.count > elements)
        return Error(fmt::format("bitmap nnz {} exceeds rows*cols {}", d.count, elements));
      l.row_ptr_width = d.count < (uint64_t{1} << 32) ? 4 : 8;
      l.groups_per_row = (cols + d.group_size - 1) / d.group_size;
      l.words_per_row = (cols + kBitmapWordColumns - 1) / kBitmapWordColumns;
      // Cannot overflow: rows · words_per_row and rows · groups_per_row are at most elements.
      fits = b.add(&l.row_ptr, rows + 1, l.row_ptr_width) &&
             b.add(&l.masks, rows * l.words_per_row, 4) &&
             b.add(&l.scales, rows * l.groups_per_row, 4) &&
             b.add(&l.values, q4 ? (d.count + 1) / 2 : d.count, 1);
      break;
    }
  }
  if (!fits) return Error("payload size overflows 64 bits");
  l.total_size = b.end();
  return l;
}

}  // namespace sparq::formats
