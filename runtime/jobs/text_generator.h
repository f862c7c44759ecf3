// Text generation on a decoder: requests run with continuous batching — up to one sequence
// per KV-cache slot decodes in every forward, a finished sequence's slot takes the next
// waiting prompt at once (its prefill rides along with the others' decode steps). The same
// core serves `sparq generate` (one prompt, streamed to a terminal), batch jobs and a server.
//
// Per sequence: sampling (sampler.h) with its own seeded stream, EOS from the model's
// generation config, stop strings (the text ends before the first one), max tokens (and the
// context: prompt and generated tokens together fill at most the cache's length), and
// text streamed as it becomes final: never half a UTF-8 character, never the start of what
// may turn out to be a stop string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/error.h"
#include "runtime/model/decoder_model.h"
#include "runtime/model/sampler.h"
#include "runtime/text/tokenizer.h"

namespace sparq::runtime {

struct GenerationRequest {
  std::vector<int32_t> prompt;  // token ids (prompt_tokens() makes them from text)
  size_t max_tokens = 256;
  SamplingOptions sampling;
  std::vector<std::string> stop;  // stop strings, not empty
  bool ignore_eos = false;        // benchmarks: always generate max_tokens
};

enum class FinishReason { eos, stop, length };
std::string_view finish_reason_name(FinishReason r);  // "eos", "stop", "length"

struct GenerationResult {
  std::string text;             // the generated text, up to a stop string, EOS excluded
  std::vector<int32_t> tokens;  // generated token ids (EOS included when it ended the text)
  std::vector<SampledToken> sampled;  // one per token, with log-probabilities
  FinishReason finish = FinishReason::length;
  size_t prompt_tokens = 0;
  double time_to_first_token_ms = 0, seconds = 0;
};

// A prompt's token ids as the model expects them (the tokenizer's template adds BOS).
Result<std::vector<int32_t>> prompt_tokens(const Tokenizer& tokenizer, std::string_view text);

// A conversation rendered by the model's chat template (GenerationConfig::chat_template) with
// the assistant's turn opened, and its token ids as Hugging Face's apply_chat_template gives
// them: the template writes the special tokens itself, so none are added. `messages`: a JSON
// array of {"role", "content"}.
struct ChatPrompt {
  std::string text;
  std::vector<int32_t> ids;
};
Result<ChatPrompt> chat_prompt(const DecoderModel& model, const Tokenizer& tokenizer, const nlohmann::json& messages);

class TextGenerator {
 public:
  // `cache` holds one sequence per slot; the generator owns its slots while run() runs.
  TextGenerator(DecoderModel& model, std::shared_ptr<const Tokenizer> tokenizer, KvCache& cache);

  using OnText = std::function<void(size_t request, std::string_view text)>;
  using OnDone = std::function<void(size_t request, Result<GenerationResult> result)>;
  // Runs every request to its end; `on_text` receives each request's text as it becomes
  // final, `on_done` its result or its own error (a prompt longer than the context) — one
  // call per request, in the order they finish. Returns an error only when the model fails.
  Status run(std::span<const GenerationRequest> requests, const OnText& on_text, const OnDone& on_done);

 private:
  struct Sequence;
  void emit_text(Sequence& s, const OnText& on_text);

  DecoderModel& model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  KvCache& cache_;
};

}  // namespace sparq::runtime
