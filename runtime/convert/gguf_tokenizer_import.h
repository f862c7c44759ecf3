// The tokenizer a GGUF file embeds (tokenizer.ggml.*), as the Hugging Face tokenizer.json
// object a .sparq file carries, and the generation settings beside it (BOS, EOS, add_bos,
// tokenizer.chat_template).
//   tokenizer.ggml.model "llama": SentencePiece BPE (sentencepiece_tokenizer_json.h) from
//     tokens, scores and token_type;
//   "gpt2": byte-level BPE from tokens and merges, its pre-tokenizer chosen by
//     tokenizer.ggml.pre (llama-bpe / llama3: Llama 3's split regex; qwen2: Qwen2's; default /
//     gpt2 / absent: GPT-2's ByteLevel), control tokens (token_type 3) as special added tokens.
// Any other model or pre-tokenizer is refused by name.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "formats/error.h"
#include "formats/gguf.h"
#include "runtime/model/model_schema.h"

namespace sparq::runtime {

struct GgufTokenizerImport {
  nlohmann::json tokenizer;
  std::string kind;   // "sentencepiece-bpe", "byte-level-bpe (llama3)", ...
  uint64_t tokens = 0;
  GenerationConfig generation;
};

Result<GgufTokenizerImport> import_gguf_tokenizer(const formats::GgufFile& file);

}  // namespace sparq::runtime
