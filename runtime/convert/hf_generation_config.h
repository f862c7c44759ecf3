// Step 3b of a Hugging Face decoder import: the "generation" object (model_schema.h's
// GenerationConfig) from tokenizer_config.json (bos_token / eos_token as strings or
// AddedToken objects, turned into ids through tokenizer.json; add_bos_token; chat_template, a
// string or a list of named templates of which "default" is taken), generation_config.json
// (bos_token_id, eos_token_id as an id or a list, the sampling defaults) and, for ids neither
// gives, config.json.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "formats/error.h"
#include "runtime/convert/hf_checkpoint_discovery.h"
#include "runtime/model/model_schema.h"

namespace sparq::runtime::hf {

struct GenerationImport {
  GenerationConfig generation;
  std::vector<std::string> files_read;  // generation_config.json, when there is one
};

Result<GenerationImport> import_generation_config(const Checkpoint& checkpoint, const nlohmann::json& tokenizer,
                                                  const nlohmann::json& tokenizer_config);

}  // namespace sparq::runtime::hf
