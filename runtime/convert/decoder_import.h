// The stage the three Llama-family importers (Hugging Face, GGUF, llama2.c) end with: a
// decoder described in sparq's terms — its LlamaConfig, canonical tensors (model_schema.h),
// tokenizer.json object and GenerationConfig — checked for consistency and written as one
// .sparq file with the provenance of every file read. Each importer only reads its format.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "formats/error.h"
#include "runtime/convert/encode_and_write.h"
#include "runtime/convert/hf_import.h"
#include "runtime/model/model_schema.h"

namespace sparq::runtime {

struct ImportedDecoder {
  std::string origin;              // the file or directory, named in errors
  std::string source_format;       // "hf", "gguf", "llama2c"
  std::string description;         // e.g. "LlamaForCausalLM", "GGUF llama", "llama2.c version 2"
  LlamaConfig config;
  std::vector<SourceTensor> tensors;  // llama_tensors(config), in that order
  nlohmann::json tokenizer;        // a tokenizer.json object
  std::string tokenizer_origin;    // where it came from, for messages
  GenerationConfig generation;
  std::vector<std::string> files;  // every file read, hashed into the provenance
  nlohmann::json conversion;       // format-specific provenance fields
  std::vector<std::string> notes;
};

// Checks the model (the architecture object loads; the tensors are llama_tensors(config);
// the tokenizer builds, or is of a kind this build cannot run yet, which becomes a note; its
// ids and the generation's special tokens fit the vocabulary) and writes it.
Result<HfImportSummary> write_decoder_sparq(ImportedDecoder model, const HfImportOptions& options,
                                            const std::string& out_path);

// The encoding a decoder tensor takes by its role: linear weights `options.weights`,
// embeddings `options.embeddings`, norms and biases f32.
formats::EncodeOptions encoding_for_role(TensorRole role, const HfImportOptions& options);

}  // namespace sparq::runtime
