// Step 2 of a Hugging Face import (hf_import.h): which checkpoint tensors make up each
// canonical tensor of model_schema.h (Q, K and V fused into one matrix), checked for
// presence and shape; for encoders and for the Llama family's causal LMs. The pooler depends on the tensors present, so the architecture is
// final only here.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "formats/error.h"
#include "runtime/convert/hf_checkpoint_discovery.h"
#include "runtime/model/model_schema.h"

namespace sparq::runtime::hf {

struct TensorMapping {
  BertConfig config;             // the .sparq "architecture" (encoders; decoders: Checkpoint::llama)
  std::vector<TensorSpec> specs;  // canonical tensors, in the order written
  // Canonical name -> the checkpoint tensors stacked by rows into it.
  std::map<std::string, std::vector<std::string>> sources;
  std::vector<std::string> notes;  // checkpoint tensors the model does not use
};

Result<TensorMapping> map_tensors(const Checkpoint& checkpoint);

}  // namespace sparq::runtime::hf
