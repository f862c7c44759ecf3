#include "runtime/model/weight_views.h"

#include <string>

#include "formats/tensor_codec.h"

namespace sparq::runtime {

using formats::Encoding;

Result<kernels::DenseWeightsView> view_dense_weights(const formats::TensorDesc& desc,
                                                     std::span<const uint8_t> payload) {
  using kernels::DenseType;
  kernels::DenseWeightsView v;
  switch (desc.encoding) {
    case Encoding::f32: v.type = DenseType::f32; break;
    case Encoding::f16: v.type = DenseType::f16; break;
    case Encoding::bf16: v.type = DenseType::bf16; break;
    case Encoding::q8: v.type = DenseType::q8; break;
    case Encoding::q4: v.type = DenseType::q4; break;
    default:
      return Error("tensor '" + desc.name + "': dense matmul needs f32, f16, bf16, q8 or q4 weights, not " +
                   std::string(formats::encoding_name(desc.encoding)));
  }
  Result<formats::TensorLayout> layout = formats::compute_layout(desc);
  if (!layout.ok()) return layout.error().within("tensor '" + desc.name + "'");
  if (payload.size() < layout->total_size) {
    return Error("tensor '" + desc.name + "': payload of " + std::to_string(payload.size()) +
                 " bytes is shorter than its layout (" + std::to_string(layout->total_size) + ")");
  }
  v.n = desc.rows();
  v.k = desc.cols();
  const uint8_t* base = payload.data();
  if (v.type == DenseType::f32) {
    v.f32 = reinterpret_cast<const float*>(base + layout->values.offset);
    return v;
  }
  if (v.type == DenseType::f16 || v.type == DenseType::bf16) {
    v.halves = reinterpret_cast<const uint16_t*>(base + layout->values.offset);
    return v;
  }
  v.group = desc.group_size == 0 ? v.k : desc.group_size;
  v.asymmetric = v.type == DenseType::q4 && desc.asymmetric;
  v.scales = reinterpret_cast<const float*>(base + layout->scales.offset);
  if (v.asymmetric) v.mins = reinterpret_cast<const float*>(base + layout->mins.offset);
  v.values = base + layout->values.offset;
  return v;
}

Result<kernels::BitmapWeightsView> view_bitmap_weights(const formats::TensorDesc& desc,
                                                       std::span<const uint8_t> payload) {
  const std::string where = "tensor '" + desc.name + "'";
  if (desc.encoding != Encoding::bitmap)
    return Error(where + ": not a bitmap tensor (" + desc.encoding_string() + ")");
  Result<formats::TensorLayout> layout = formats::compute_layout(desc);
  if (!layout.ok()) return layout.error().within(where);
  if (payload.size() != layout->total_size)
    return Error(where + ": payload of " + std::to_string(payload.size()) +
                 " bytes does not match its layout (" + std::to_string(layout->total_size) + ")");
  if (Status s = formats::validate_payload(desc, *layout, payload); !s) return s.error().within(where);
  kernels::BitmapWeightsView v;
  v.type = desc.value_encoding == Encoding::q4 ? kernels::BitmapValues::q4 : kernels::BitmapValues::q8;
  v.n = desc.rows();
  v.k = desc.cols();
  v.group = desc.group_size;
  v.nnz = desc.count;
  const uint8_t* base = payload.data();
  v.row_ptr = base + layout->row_ptr.offset;
  v.row_ptr_width = layout->row_ptr_width;
  // Sections start at multiples of 64 in a payload the reader aligns at least as much.
  v.masks = reinterpret_cast<const uint32_t*>(base + layout->masks.offset);
  v.scales = reinterpret_cast<const float*>(base + layout->scales.offset);
  v.values = base + layout->values.offset;
  return v;
}

Result<kernels::SparseView> view_sparse_weights(const formats::TensorDesc& desc,
                                                std::span<const uint8_t> payload) {
  bool csr = desc.encoding == Encoding::csr;
  bool bsr = desc.encoding == Encoding::bsr;
  bool values_ok = csr ? (desc.value_encoding == Encoding::f32 ||
                          desc.value_encoding == Encoding::q8)
                       : desc.value_encoding == Encoding::q8;
  if (!(csr || bsr) || !values_ok) {
    return Error("sparse matmul needs csr:f32, csr:q8 or bsr:q8 weights, got " +
                     desc.encoding_string(),
                 ErrorKind::unsupported)
        .within("tensor '" + desc.name + "'");
  }
  auto layout = formats::compute_layout(desc);
  if (!layout) return layout.error().within("tensor '" + desc.name + "'");
  if (payload.size() < layout->total_size) {
    return Error("payload is " + std::to_string(payload.size()) + " bytes, layout needs " +
                 std::to_string(layout->total_size))
        .within("tensor '" + desc.name + "'");
  }
  if (auto st = formats::validate_payload(desc, *layout, payload); !st) {
    return st.error().within("tensor '" + desc.name + "'");
  }
  kernels::SparseView v;
  v.layout = bsr ? kernels::SparseLayout::bsr : kernels::SparseLayout::csr;
  v.value_type = desc.value_encoding == Encoding::q8 ? kernels::SparseValueType::q8
                                                     : kernels::SparseValueType::f32;
  v.rows = desc.rows();
  v.cols = desc.cols();
  v.block_rows = bsr ? desc.block_rows : 1;
  v.block_cols = bsr ? desc.block_cols : 1;
  v.count = desc.count;
  v.row_ptr = payload.data() + layout->row_ptr.offset;
  v.col_idx = payload.data() + layout->col_idx.offset;
  v.row_ptr_width = layout->row_ptr_width;
  v.col_idx_width = layout->col_idx_width;
  v.scales = layout->scales.size
                 ? reinterpret_cast<const float*>(payload.data() + layout->scales.offset)
                 : nullptr;
  v.values = payload.data() + layout->values.offset;
  return v;
}

Result<kernels::PackedSparseWeight> pack_sparse_weight(const formats::TensorDesc& desc,
                                                       std::span<const uint8_t> payload,
                                                       const kernels::SparseGemmConfig& config) {
  auto view = view_sparse_weights(desc, payload);
  if (!view) return view.error();
  auto packed = kernels::pack_sparse_weight(*view, config);
  if (!packed) return packed.error().within("tensor '" + desc.name + "'");
  return packed;
}

}  // namespace sparq::runtime
