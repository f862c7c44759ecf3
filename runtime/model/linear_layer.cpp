#include "runtime/model/linear_layer.h"

#include <fmt/core.h>

#include "formats/tensor_codec.h"
#include "kernels/cpu_features.h"
#include "runtime/model/weight_views.h"

namespace sparq::runtime {
namespace {

using formats::Encoding;

bool sparse_values_packable(const formats::TensorDesc& d) {
  // What pack_sparse_weight takes (kernels/sparse_gemm.h): csr f32/q8, bsr q8.
  if (d.encoding == Encoding::csr) return d.value_encoding == Encoding::f32 || d.value_encoding == Encoding::q8;
  return d.value_encoding == Encoding::q8;
}

std::string dense_description(const formats::TensorDesc& stored, const kernels::PackedDenseWeights& w,
                              const ModelKernels& k) {
  return fmt::format("{} -> dense {} ({})", stored.encoding_string(), kernels::dense_type_name(w.type()),
                     k.dense->name);
}

}  // namespace

Result<ModelKernels> model_kernels_for(kernels::Isa isa) {
  if (!kernels::isa_supported(isa, kernels::cpu_info().features)) {
    return Error(fmt::format("ISA {} is not supported by this CPU", kernels::isa_name(isa)),
                 ErrorKind::unsupported);
  }
  ModelKernels k;
  k.isa = isa;
  auto dense = kernels::dense_gemm_config_for(isa);
  if (!dense) return dense.error();
  auto ops = kernels::transformer_ops_config_for(isa);
  if (!ops) return ops.error();
  k.dense = *dense;
  k.ops = *ops;
  k.sparse = kernels::sparse_gemm_config_for(isa);
  k.bitmap = kernels::bitmap_gemm_config_for(isa);
  return k;
}

Result<LinearLayer> LinearLayer::bind(const formats::TensorView& weight, std::span<const float> bias,
                                          const ModelKernels& kernels) {
  const formats::TensorDesc& d = weight.desc;
  const auto in_tensor = [&](const Error& e) { return e.within(fmt::format("tensor '{}'", d.name)); };
  LinearLayer l;
  l.n_ = d.rows();
  l.k_ = d.cols();
  if (!bias.empty() && bias.size() != l.n_) {
    return Error(fmt::format("tensor '{}': bias of {} values for {} outputs", d.name, bias.size(), l.n_));
  }
  l.bias_ = bias.empty() ? nullptr : bias.data();
  const Encoding values = formats::is_sparse_layout(d.encoding) ? d.value_encoding : d.encoding;
  l.integer_weights_ = values == Encoding::q8 || values == Encoding::q4;

  if (d.encoding == Encoding::csr || d.encoding == Encoding::bsr) {
    formats::TensorDesc desc = d;
    std::span<const uint8_t> payload = weight.payload;
    formats::EncodedTensor widened;
    if (!sparse_values_packable(d)) {
      auto dense = formats::decode_tensor(d, weight.payload);
      if (!dense) return in_tensor(dense.error());
      formats::EncodeOptions csr_f32;
      csr_f32.encoding = Encoding::csr;
      csr_f32.value_encoding = Encoding::f32;
      auto enc = formats::encode_tensor(d.name, d.dims, *dense, csr_f32);
      if (!enc) return in_tensor(enc.error());
      widened = std::move(*enc);
      desc = widened.desc;
      payload = widened.payload;
    }
    auto packed = pack_sparse_weight(desc, payload, kernels.sparse);
    if (!packed) return in_tensor(packed.error());
    l.sparse_ = std::make_shared<const kernels::PackedSparseWeight>(std::move(*packed));
    l.description_ = d.encoding_string() == desc.encoding_string()
                         ? l.sparse_->describe()
                         : fmt::format("{} widened to {}", d.encoding_string(), l.sparse_->describe());
    return l;
  }

  if (d.encoding == Encoding::bitmap) {
    auto view = view_bitmap_weights(d, weight.payload);
    if (!view) return view.error();
    auto packed = kernels::pack_bitmap_weights(*view, kernels.bitmap);
    if (!packed) return in_tensor(packed.error());
    l.description_ = fmt::format("{} -> bitmap {} ({})", d.encoding_string(), encoding_name(d.value_encoding),
                                 kernels::isa_name(kernels.bitmap.isa));
    l.bitmap_ = std::make_shared<const kernels::PackedBitmapWeights>(std::move(*packed));
    return l;
  }

  auto view = view_dense_weights(d, weight.payload);
  if (!view) return view.error();
  auto packed = kernels::pack_dense_weights(*view, *kernels.dense);
  if (!packed) return in_tensor(packed.error());
  l.description_ = dense_description(d, *packed, kernels);
  l.dense_ = std::make_shared<const kernels::PackedDenseWeights>(std::move(*packed));
  return l;
}

void LinearLayer::run(const float* x, size_t m, float* y, kernels::InputTransform f) const {
  if (dense_) {
    kernels::dense_matmul(*dense_, x, m, bias_, y, f);
  } else if (bitmap_) {
    kernels::bitmap_matmul(*bitmap_, x, m, bias_, y, f);
  } else {
    kernels::sparse_gemm(*sparse_, x, m, bias_, y, f);
  }
}

void LinearLayer::run_ffn(const LinearLayer& up, const LinearLayer& down, kernels::InputTransform f,
                          const float* x, size_t m, float* mid, float* y) {
  if (up.sparse_ && down.sparse_ && kernels::sparse_ffn_fuses(*up.sparse_, *down.sparse_, m)) {
    kernels::sparse_ffn(*up.sparse_, up.bias_, *down.sparse_, down.bias_, f, x, m, y);
    return;
  }
  up.run(x, m, mid);
  down.run(mid, m, y, f);
}

}  // namespace sparq::runtime
