// Import of Hugging Face BERT-family checkpoints (`sparq convert --from hf DIR`): reads
// config.json, the safetensors weights, the tokenizer (tokenizer.json, or vocab.txt +
// tokenizer_config.json) and, for sentence-transformers models, modules.json and
// 1_Pooling/config.json; maps the tensors onto the canonical names of model_schema.h
// (Q, K and V fused into one matrix) and writes one .sparq file whose metadata carries the
// architecture, the tokenizer (as a tokenizer.json object), the labels and provenance.
//
// Supported: BertModel, BertForSequenceClassification, RobertaModel,
// RobertaForSequenceClassification, DistilBertModel, DistilBertForSequenceClassification,
// and sentence-transformers embedders on those bodies. Anything else (another
// architecture, an unsupported option such as a non-absolute position embedding type or an
// unknown activation) is refused with a message naming the file and field.
//
// The steps, one file each: hf_checkpoint_discovery (what the directory holds),
// hf_tensor_mapping (checkpoint tensors -> canonical tensors), hf_tokenizer_import, and
// encode_and_write (the stage every importer ends with).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "formats/error.h"
#include "formats/tensor_codec.h"
#include "runtime/convert/compression_recipe.h"
#include "runtime/convert/encode_and_write.h"

namespace sparq::runtime {

struct HfImportOptions {
  formats::EncodeOptions weights;     // linear layers (f32, f16, q8, q4 with group size)
  formats::EncodeOptions embeddings;  // embedding tables (f32, f16 or q8)
  // Linear weights that already hold zeros are stored as CSR/BSR (with `weights`' value
  // encoding) when that is smaller than the dense encoding.
  bool keep_sparse = true;
  // GGUF and llama2.c sources: tensors already quantized in blocks a sparq encoding holds
  // exactly are transcoded, not requantized, unless `weights` (linear weights) or `embeddings`
  // were given explicitly; then those encodings apply to the dequantized values.
  bool weights_given = false, embeddings_given = false;
  bool compress = false;              // zstd per tensor
  // Prune and re-encode the matrices it selects (runtime/compression_recipe.h); recorded in
  // the metadata under "compression".
  const CompressionRecipe* recipe = nullptr;
  std::string command_line;           // recorded in the provenance
  // Called after each tensor is written (index from 0, of `total`), e.g. for a progress line.
  std::function<void(const TensorReport&, size_t index, size_t total)> on_tensor;
};

struct HfImportSummary {
  std::string hf_architecture;  // e.g. "BertForSequenceClassification"
  nlohmann::json architecture;  // the .sparq "architecture" object written
  std::vector<std::string> labels;
  std::vector<TensorReport> tensors;
  uint64_t parameters = 0, source_bytes = 0, file_bytes = 0;  // source: the safetensors files
  uint64_t max_tokens = 0;          // metadata "max_tokens": the tokenizer's truncation length
  std::vector<std::string> notes;   // e.g. checkpoint tensors the model does not use
  std::vector<CompressedTensor> compressed;  // what the recipe did, when one was given
};

// Metadata written besides the architecture: "tokenizer" (tokenizer.json object), "labels"
// (from id2label, classifiers only, when the config names them), "max_tokens" (truncation
// length: tokenizer_config.json model_max_length or sentence_bert_config.json
// max_seq_length when sane, else max_positions - position_offset) and "provenance".
// Linear weights are stored in `options.weights` as given (f16 and bf16 stay 2 bytes per
// weight, on disk and in the kernels), norms and biases always f32.
Result<HfImportSummary> import_hf_checkpoint(const std::string& dir, const HfImportOptions& options,
                                             const std::string& out_path);

// The options of the encode_and_write stage every importer ends with.
EncodeAndWriteOptions stage_options(const HfImportOptions& options);

// Whether `HfImportOptions::embeddings` is one an embedding table takes (f32, f16, bf16,
// q8); lets a front end refuse it before the import starts, in its own terms.
Status check_embedding_encoding(const formats::EncodeOptions& encoding);

}  // namespace sparq::runtime
