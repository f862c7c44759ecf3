#include "runtime/model/model_weights.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "formats/tensor_codec.h"

namespace sparq::runtime {
namespace {

using formats::Encoding;

bool allowed_encoding(TensorRole role, const formats::TensorDesc& d) {
  switch (role) {
    case TensorRole::linear:
      return true;  // every encoding: dense, quantized and sparse (LinearLayer)
    case TensorRole::embedding:
      return d.encoding == Encoding::f32 || d.encoding == Encoding::f16 ||
             d.encoding == Encoding::bf16 || d.encoding == Encoding::q8;
    case TensorRole::norm:
    case TensorRole::bias:
      return d.encoding == Encoding::f32 || d.encoding == Encoding::f16 || d.encoding == Encoding::bf16;
  }
  return false;
}

const char* allowed_text(TensorRole role) {
  switch (role) {
    case TensorRole::linear: return "any";
    case TensorRole::embedding: return "f32, f16, bf16 or q8";
    default: return "f32, f16 or bf16";
  }
}

}  // namespace

Result<ModelKernels> kernels_for_model(std::optional<kernels::Isa> isa, const std::string& path) {
  Result<kernels::Isa> level = isa ? Result<kernels::Isa>(*isa) : kernels::selected_isa();
  if (!level) return level.error();
  auto k = model_kernels_for(*level);
  if (!k) return k.error().within(path);
  return k;
}

Result<std::shared_ptr<const formats::SparqReader>> open_model_file(const std::string& path) {
  auto reader = formats::SparqReader::open(path);
  if (!reader) return reader.error();
  return std::shared_ptr<const formats::SparqReader>(std::move(*reader));
}

ModelWeights::ModelWeights(std::shared_ptr<const formats::SparqReader> reader, const ModelKernels& kernels)
    : reader_(std::move(reader)), kernels_(kernels) {}

Status ModelWeights::check(const std::vector<TensorSpec>& specs, std::string_view family) {
  std::set<std::string> expected;
  for (const TensorSpec& spec : specs) {
    expected.insert(spec.name);
    const formats::TensorView* t = reader_->find(spec.name);
    if (!t) return Error(fmt::format("tensor '{}': missing (a {} model needs it)", spec.name, family));
    if (t->desc.dims != spec.dims) {
      return Error(fmt::format("tensor '{}': shape {}, expected {}", spec.name, t->desc.shape_string(),
                               fmt::join(spec.dims, "x")));
    }
    if (!allowed_encoding(spec.role, t->desc)) {
      return Error(fmt::format("tensor '{}': encoding {} not supported here (expected {})", spec.name,
                               t->desc.encoding_string(), allowed_text(spec.role)));
    }
  }
  for (const formats::TensorView& t : reader_->tensors()) {
    if (!expected.count(t.desc.name)) {
      return Error(fmt::format("tensor '{}': not part of a {} model with this architecture", t.desc.name, family));
    }
  }
  return {};
}

Result<std::span<const float>> ModelWeights::f32_values(const std::string& name) {
  const formats::TensorView* t = reader_->find(name);
  if (!t) return Error(fmt::format("tensor '{}': missing", name));
  if (t->desc.encoding == Encoding::f32) return t->section<float>(t->layout.values);
  auto values = formats::decode_tensor(t->desc, t->payload);
  if (!values) return values.error().within(fmt::format("tensor '{}'", name));
  widened_.push_back(std::move(*values));
  return std::span<const float>(widened_.back());
}

Result<kernels::EmbeddingTable> ModelWeights::embedding(const std::string& name) {
  const formats::TensorView* t = reader_->find(name);
  if (!t) return Error(fmt::format("tensor '{}': missing", name));
  kernels::EmbeddingTable table;
  table.vocab = t->desc.dims[0];
  table.dim = t->desc.dims[1];
  switch (t->desc.encoding) {
    case Encoding::f16: table.encoding = kernels::EmbeddingEncoding::f16; break;
    case Encoding::q8:
      table.encoding = kernels::EmbeddingEncoding::q8;
      table.group_size = t->desc.group_size;
      break;
    default: {  // f32 in place; bf16 widened (the lookup kernel reads f32, f16 and q8)
      auto values = f32_values(name);
      if (!values) return values.error();
      table.payload = values->data();
      table.payload_bytes = values->size_bytes();
      return table;
    }
  }
  table.payload = t->payload.data();
  table.payload_bytes = t->payload.size();
  if (table.payload_bytes < kernels::embedding_payload_bytes(table)) {
    return Error(fmt::format("tensor '{}': payload shorter than a {} table needs", name,
                             t->desc.encoding_string()));
  }
  return table;
}

Result<LinearLayer> ModelWeights::linear(const std::string& weight, const std::string& bias) {
  std::span<const float> b;
  if (!bias.empty()) {
    auto values = f32_values(bias);
    if (!values) return values.error();
    b = *values;
  }
  const formats::TensorView* w = reader_->find(weight);
  if (!w) return Error(fmt::format("tensor '{}': missing", weight));
  auto l = LinearLayer::bind(*w, b, kernels_);
  if (!l) return l.error();
  // One describe_kernels() line per kind of layer and packing: layer numbers become '*'.
  std::string pattern = weight;
  if (pattern.rfind("layers.", 0) == 0) pattern = "layers.*" + pattern.substr(pattern.find('.', 7));
  std::pair<std::string, std::string> kind{pattern, l->description()};
  if (std::find(linear_kinds_.begin(), linear_kinds_.end(), kind) == linear_kinds_.end()) {
    linear_kinds_.push_back(kind);
  }
  return l;
}

uint64_t ModelWeights::stored_bytes() const {
  uint64_t bytes = 0;
  for (const formats::TensorView& t : reader_->tensors()) bytes += t.stored_size;
  return bytes;
}

std::vector<std::string> ModelWeights::describe_kernels() const {
  std::vector<std::string> lines;
  for (const auto& [pattern, packing] : linear_kinds_) lines.push_back(pattern + ": " + packing);
  return lines;
}

}  // namespace sparq::runtime
