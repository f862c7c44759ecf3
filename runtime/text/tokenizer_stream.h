// Detokenizing while generating: ids come one at a time and the text they complete goes out
// at once, so `sparq generate` can print as it goes.
//
// The guarantee: the strings push() returns, followed by finish()'s, concatenate to exactly
// tokenizer.decode(all ids, skip_special_tokens) (without clean_up_spaces, which looks at
// text on both sides of a token and cannot stream).
//
// How: decoders are local to a token except at two places, a multi-byte character spread over
// several tokens (byte-level and byte-fallback tokens), and the start of the text (Llama's
// decoders strip the first token's leading space). So each step decodes a short window, the
// ids from `prefix_` on, and returns what it adds to the decode of ids [prefix_, read_): the
// first token of both decodes is the same, so a stripped leading space cancels out, and at
// the start the window is the whole text. Text that ends in U+FFFD may be a character whose
// remaining bytes are still to come: it is held back (finish() releases it). Special tokens
// skipped by decode are dropped on arrival, as decode drops them before its decoder runs.
// Each step decodes a window of a few ids twice; the ids before the window are let go.
//
// One detokenizer per generated sequence, used from one thread at a time (the Tokenizer it
// shares is thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/text/tokenizer.h"

namespace sparq::runtime {

class StreamingDetokenizer {
 public:
  StreamingDetokenizer(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special_tokens);

  // Takes the next id; returns the text it completes ("" when it is held back).
  std::string push(int32_t id);
  // The text still held back; call once after the last id.
  std::string finish();

 private:
  std::string next_text(bool final);

  std::shared_ptr<const Tokenizer> tokenizer_;
  bool skip_special_tokens_;
  std::vector<int32_t> ids_;  // the window: from the last id already returned on
  size_t prefix_ = 0;         // ids_[prefix_, read_) were decoded and returned already
  size_t read_ = 0;
};

}  // namespace sparq::runtime
