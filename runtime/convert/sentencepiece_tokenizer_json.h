// A SentencePiece BPE vocabulary (pieces with scores and types, as GGUF's tokenizer.ggml.* and
// llama2.c's tokenizer.bin carry it) as the Hugging Face tokenizer.json object Hugging Face's
// own converter writes for Llama 2 (transformers' LlamaConverter): Prepend("▁") and
// Replace(" " -> "▁") normalizers, no pre-tokenizer, BPE with byte fallback, the merges derived
// from the scores, control and user-defined pieces as added tokens, BOS (and EOS) added by a
// TemplateProcessing post-processor as the checkpoint asks, and the Llama decoder.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sparq::runtime {

// SentencePiece's piece types, numbered as its model proto and GGUF's token_type are.
enum class PieceType : int { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

struct SentencePiece {
  std::string piece;  // UTF-8, spaces as "▁", bytes as "<0xXX>"
  float score = 0;
  PieceType type = PieceType::normal;
};

// Hugging Face's rule (SentencePieceExtractor): pieces in descending score order (ties by
// id); each split of a piece into two pieces both in the vocabulary, at a character (code
// point) boundary, is a merge, the splits of one piece ordered by the ids of their left, then
// right part.
std::vector<std::pair<std::string, std::string>> sentencepiece_merges(const std::vector<SentencePiece>& pieces);

struct SentencePieceSpecials {
  int64_t unk = -1, bos = -1, eos = -1;  // -1: none
  bool add_bos = true, add_eos = false;
};

nlohmann::json sentencepiece_bpe_tokenizer_json(const std::vector<SentencePiece>& pieces,
                                                const SentencePieceSpecials& specials);

}  // namespace sparq::runtime
