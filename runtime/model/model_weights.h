// The tensors of one .sparq file bound for a model graph, shared by the encoder and the
// decoder: checked against the family's schema (names, shapes, the encodings each role
// allows), norms and biases widened to f32 where stored narrower, embedding tables laid
// over their payloads, linear layers packed for the model's kernels. Errors name the tensor.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "formats/error.h"
#include "formats/sparq_reader.h"
#include "kernels/transformer_ops.h"
#include "runtime/model/linear_layer.h"
#include "runtime/model/model_schema.h"

namespace sparq::runtime {

// The kernels a model loaded from `path` runs with: those of `isa`, or of selected_isa()
// when unset. Errors name the file.
Result<ModelKernels> kernels_for_model(std::optional<kernels::Isa> isa, const std::string& path);

// Opens a .sparq file for a model to bind (shared: a model keeps its reader alive).
Result<std::shared_ptr<const formats::SparqReader>> open_model_file(const std::string& path);

class ModelWeights {
 public:
  ModelWeights(std::shared_ptr<const formats::SparqReader> reader, const ModelKernels& kernels);
  ModelWeights(const ModelWeights&) = delete;
  ModelWeights& operator=(const ModelWeights&) = delete;

  // The file must hold exactly `specs`, in encodings their roles allow; `family` ("bert",
  // "llama") names the model in messages.
  Status check(const std::vector<TensorSpec>& specs, std::string_view family);

  // A tensor's values as f32: in place when stored f32, else decoded once and kept.
  Result<std::span<const float>> f32_values(const std::string& name);
  Result<kernels::EmbeddingTable> embedding(const std::string& name);
  // `bias` empty: a layer without bias.
  Result<LinearLayer> linear(const std::string& weight, const std::string& bias);

  const formats::SparqReader& reader() const { return *reader_; }
  const ModelKernels& kernels() const { return kernels_; }
  uint64_t stored_bytes() const;  // bytes of every tensor in the file
  // One line per linear layer kind and packing: "layers.*.ffn.up.weight: csr:q8 -> quads 1x4 (avx512vnni)".
  std::vector<std::string> describe_kernels() const;

 private:
  std::shared_ptr<const formats::SparqReader> reader_;
  ModelKernels kernels_;
  std::deque<std::vector<float>> widened_;  // tensors decoded to f32 at load
  std::vector<std::pair<std::string, std::string>> linear_kinds_;  // (name pattern, packing)
};

}  // namespace sparq::runtime
