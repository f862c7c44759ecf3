// The public codec entry points: check inputs, compute the layout, and dispatch to the
// encoding's codec (codec_*.cpp).
#include "formats/tensor_codec.h"

#include <fmt/format.h>

#include "formats/codec_internal.h"

namespace sparq::formats {
namespace {

bool same_section(const Section& a, const Section& b) {
  return a.offset == b.offset && a.size == b.size;
}
bool same_layout(const TensorLayout& a, const TensorLayout& b) {
  return same_section(a.values, b.values) && same_section(a.scales, b.scales) &&
         same_section(a.mins, b.mins) && same_section(a.row_ptr, b.row_ptr) &&
         same_section(a.col_idx, b.col_idx) && same_section(a.masks, b.masks) &&
         a.words_per_row == b.words_per_row && a.row_ptr_width == b.row_ptr_width &&
         a.col_idx_width == b.col_idx_width && a.groups_per_row == b.groups_per_row &&
         a.total_size == b.total_size;
}

}  // namespace

TensorDesc describe_encoding(std::string name, std::vector<uint64_t> dims, const EncodeOptions& options) {
  TensorDesc d;
  d.name = std::move(name);
  d.dims = std::move(dims);
  d.encoding = options.encoding;
  d.value_encoding = options.value_encoding;
  d.group_size = options.group_size;
  d.asymmetric = options.asymmetric;
  d.block_rows = options.block_rows;
  d.block_cols = options.block_cols;
  return d;
}

Result<EncodedTensor> encode_tensor(std::string name, std::vector<uint64_t> dims,
                                    std::span<const float> values, const EncodeOptions& options) {
  EncodedTensor t;
  t.desc = describe_encoding(std::move(name), std::move(dims), options);
  // Parameters first (with count 0), so the values can be walked with legal dims.
  Result<TensorLayout> layout = compute_layout(t.desc);
  if (!layout) return layout.error();
  if (values.size() != t.desc.elements())
    return Error(fmt::format("{} values given for shape {} ({} elements)", values.size(),
                             t.desc.shape_string(), t.desc.elements()));
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) return Error(fmt::format("value {} is not finite", i));
  if (is_sparse_layout(t.desc.encoding)) {
    t.desc.count = t.desc.encoding == Encoding::bsr ? codec::count_bsr_blocks(t.desc, values)
                                                    : codec::count_csr_entries(values);
    layout = compute_layout(t.desc);
    if (!layout) return layout.error();
  }
  t.payload.assign(layout->total_size, 0);
  Status s;
  switch (t.desc.encoding) {
    case Encoding::f32:
    case Encoding::f16:
    case Encoding::bf16: s = codec::encode_dense(t.desc, *layout, values, t.payload); break;
    case Encoding::q8: s = codec::encode_q8(t.desc, *layout, values, t.payload); break;
    case Encoding::q4: s = codec::encode_q4(t.desc, *layout, values, t.payload); break;
    case Encoding::csr: s = codec::encode_csr(t.desc, *layout, values, t.payload); break;
    case Encoding::bsr: s = codec::encode_bsr(t.desc, *layout, values, t.payload); break;
    case Encoding::bitmap: s = codec::encode_bitmap(t.desc, *layout, values, t.payload); break;
  }
  if (!s) return s.error();
  return t;
}

Result<std::vector<float>> decode_tensor(const TensorDesc& desc, std::span<const uint8_t> payload) {
  Result<TensorLayout> layout = compute_layout(desc);
  if (!layout) return layout.error();
  if (Status s = validate_payload(desc, *layout, payload); !s) return s.error();
  std::vector<float> out(desc.elements());
  switch (desc.encoding) {
    case Encoding::f32:
    case Encoding::f16:
    case Encoding::bf16: codec::decode_dense(desc, *layout, payload, out); break;
    case Encoding::q8: codec::decode_q8(desc, *layout, payload, out); break;
    case Encoding::q4: codec::decode_q4(desc, *layout, payload, out); break;
    case Encoding::csr: codec::decode_csr(desc, *layout, payload, out); break;
    case Encoding::bsr: codec::decode_bsr(desc, *layout, payload, out); break;
    case Encoding::bitmap: codec::decode_bitmap(desc, *layout, payload, out); break;
  }
  return out;
}

Status validate_payload(const TensorDesc& desc, const TensorLayout& layout,
                        std::span<const uint8_t> payload) {
  // Everything below trusts the layout's section sizes, so make sure they are the
  // descriptor's and that the payload holds them.
  Result<TensorLayout> expected = compute_layout(desc);
  if (!expected) return expected.error();
  if (!same_layout(layout, *expected)) return Error("layout does not match the descriptor");
  if (payload.size() != layout.total_size)
    return Error(
        fmt::format("payload is {} bytes, layout needs {}", payload.size(), layout.total_size));
  switch (desc.encoding) {
    case Encoding::q8:
      return codec::validate_scales(payload, layout.scales, layout.groups_per_row, "q8 scale");
    case Encoding::q4: {
      if (Status s =
              codec::validate_scales(payload, layout.scales, layout.groups_per_row, "q4 scale");
          !s)
        return s;
      return codec::validate_scales(payload, layout.mins, layout.groups_per_row, "q4 min");
    }
    case Encoding::csr: return codec::validate_csr(desc, layout, payload);
    case Encoding::bsr: return codec::validate_bsr(desc, layout, payload);
    case Encoding::bitmap: return codec::validate_bitmap(desc, layout, payload);
    default: return {};
  }
}

uint64_t stored_entries(const TensorDesc& desc) {
  switch (desc.encoding) {
    case Encoding::csr:
    case Encoding::bitmap: return desc.count;
    case Encoding::bsr: return desc.count * desc.block_rows * desc.block_cols;
    default: return desc.elements();
  }
}

}  // namespace sparq::formats
