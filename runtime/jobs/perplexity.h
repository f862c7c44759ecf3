// Perplexity of a decoder on a token sequence, with the sliding windows of Hugging Face's
// perplexity guide: windows of `context` tokens every `stride` tokens; the first window
// scores every token after its first, later windows only the tokens no window scored
// before (the rest of the window is context). stride == context: disjoint windows (fast,
// pessimistic); a smaller stride gives each scored token more context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "formats/error.h"
#include "runtime/model/decoder_model.h"

namespace sparq::runtime {

struct PerplexityOptions {
  size_t context = 0;  // 0: the model's max_positions
  size_t stride = 0;   // 0: context / 2
  kernels::KvEncoding kv_cache = kernels::KvEncoding::f32;
  // Called after each window with the tokens scored so far and in all.
  std::function<void(uint64_t scored, uint64_t total)> progress;
};

struct PerplexityResult {
  uint64_t tokens = 0, scored_tokens = 0, windows = 0;
  size_t context = 0, stride = 0;
  double nll = 0;         // Σ −log p(token | its window's preceding tokens), natural log
  double perplexity = 0;  // exp(nll / scored_tokens)
};

Result<PerplexityResult> perplexity(DecoderModel& model, std::span<const int32_t> ids, const PerplexityOptions& options);

}  // namespace sparq::runtime
