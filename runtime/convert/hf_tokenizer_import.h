// Step 3 of a Hugging Face import (hf_import.h): the tokenizer, as the tokenizer.json object
// the .sparq metadata carries (copied, or built from vocab.txt + tokenizer_config.json), and
// the truncation length it runs with.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "formats/error.h"
#include "runtime/convert/hf_checkpoint_discovery.h"

namespace sparq::runtime::hf {

struct TokenizerImport {
  nlohmann::json tokenizer;  // a tokenizer.json object
  // Metadata "max_tokens": sentence_bert_config.json max_seq_length or tokenizer_config.json
  // model_max_length when sane, else max_positions - position_offset.
  uint64_t max_tokens = 0;
  std::vector<std::string> files_read;
  nlohmann::json tokenizer_config;  // tokenizer_config.json, when there is one (else null)
};

// Looks beside config.json, then (sentence-transformers) in the root. Refuses an encoder
// tokenizer that produces ids past the config's vocab_size (a decoder's is checked when the
// model is written, decoder_import.h).
Result<TokenizerImport> import_tokenizer(const Checkpoint& checkpoint);

}  // namespace sparq::runtime::hf
