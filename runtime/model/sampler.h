// Picks the next token from a decoder's logits: greedy, or a draw from the distribution
// shaped by temperature, top-k, top-p and min-p, after repetition, frequency and presence
// penalties. A seed makes draws reproducible: the same seed, model and prompt give the same
// text on every run and thread count (the logits do not depend on the thread count).
//
// The order of the steps is llama.cpp's and Hugging Face's: penalties on the raw logits,
// then temperature, top-k, softmax, top-p, min-p, renormalise, draw.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "formats/error.h"

namespace sparq::runtime {

struct SamplingOptions {
  double temperature = 0.0;   // 0: greedy (the highest logit, the lowest id on ties)
  uint64_t top_k = 0;         // keep the k most likely tokens; 0: all
  double top_p = 1.0;         // keep the smallest set whose probability reaches top_p
  double min_p = 0.0;         // drop tokens less likely than min_p × the most likely one's
  // Hugging Face's repetition penalty over the prompt and the generated tokens: a seen
  // token's logit is divided by it when positive, multiplied when negative.
  double repetition_penalty = 1.0;
  // OpenAI's penalties over the generated tokens: logit -= frequency · count + presence · [count > 0].
  double frequency_penalty = 0.0, presence_penalty = 0.0;
  uint64_t seed = 0;
  size_t top_logprobs = 0;    // alternatives reported with each token's log-probability
};

// Checks ranges, naming the option ("top_p: expected a number in [0, 1], got 1.5").
Status validate(const SamplingOptions& o);

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;  // under the model's distribution (log-softmax of the raw logits)
};

struct SampledToken {
  int32_t token = 0;
  float logprob = 0;
  std::vector<TokenLogprob> top;  // top_logprobs most likely tokens, most likely first
};

// One sequence's sampler: it keeps the token counts the penalties need and its own random
// stream. Feed it every token of the prompt (observe_prompt) before the first sample().
class Sampler {
 public:
  explicit Sampler(const SamplingOptions& options);

  void observe_prompt(std::span<const int32_t> tokens);
  // Picks the next token from `logits` (vocab floats) and counts it for the penalties.
  SampledToken sample(std::span<const float> logits);

 private:
  uint64_t next_random();
  double uniform();  // in [0, 1)

  SamplingOptions o_;
  uint64_t state_;
  std::unordered_map<int32_t, uint32_t> seen_;       // prompt + generated: repetition penalty
  std::unordered_map<int32_t, uint32_t> generated_;  // generated only: frequency/presence
  std::vector<float> shaped_;                        // logits after the penalties
  std::vector<std::pair<float, int32_t>> candidates_;  // (logit / temperature, id), sorted
  std::vector<double> weights_;
};

}  // namespace sparq::runtime
