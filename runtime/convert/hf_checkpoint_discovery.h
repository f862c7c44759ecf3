// Step 1 of a Hugging Face import (hf_import.h): what a checkpoint directory holds. Reads
// config.json (and, for sentence-transformers, modules.json, the Pooling module's config and
// sentence_bert_config.json), decides the Hugging Face class and its hyper-parameters (a
// Llama-family causal LM's through hf_llama_config.h), the labels, and opens the safetensors
// weights.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "formats/error.h"
#include "formats/safetensors.h"
#include "runtime/model/model_schema.h"

namespace sparq::runtime::hf {

// llama: the Llama-family causal LMs (Llama, Mistral, Qwen2), imported as decoders.
enum class Family { bert, roberta, distilbert, llama };

struct Checkpoint {
  std::string root;         // the directory given
  std::string model_dir;    // config.json, tokenizer (sentence-transformers: the Transformer module)
  std::string config_file;
  bool sentence_transformers = false;
  std::string hf_architecture;  // e.g. "BertForSequenceClassification"
  Family family = Family::bert;
  bool classifier = false;
  // The pooler is left to the tensor mapping (hf_tensor_mapping.h): it depends on the
  // tensors present.
  BertConfig config;          // the encoder families
  LlamaConfig llama;          // Family::llama
  std::vector<std::string> labels;
  std::optional<uint64_t> st_max_seq_length;  // sentence_bert_config.json
  std::string weights_dir;
  std::unique_ptr<formats::SafetensorsCheckpoint> weights;
  std::vector<std::string> files_read;  // besides the weights, for the provenance
  std::vector<std::string> notes;
};

Result<Checkpoint> discover_checkpoint(const std::string& dir);

}  // namespace sparq::runtime::hf
