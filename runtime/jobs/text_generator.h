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
#include "runtime/text/chat_template.h"
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

// The same with the template parsed once, for a caller that renders many conversations (a
// server). Thread-safe: render() only reads.
class ChatPrompter {
 public:
  static Result<ChatPrompter> create(const DecoderModel& model, std::shared_ptr<const Tokenizer> tokenizer);
  Result<ChatPrompt> render(const nlohmann::json& messages) const;

 private:
  ChatPrompter(ChatTemplate tmpl, ChatTemplateContext context, std::shared_ptr<const Tokenizer> tokenizer,
               std::string where)
      : template_(std::move(tmpl)), context_(std::move(context)), tokenizer_(std::move(tokenizer)),
        where_(std::move(where)) {}
  ChatTemplate template_;
  ChatTemplateContext context_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::string where_;  // "MODEL: metadata.generation.chat_template", for errors
};

class TextGenerator {
 public:
  // `cache` holds one sequence per slot; the generator owns its slots. `prefill_chunk`:
  // prompt tokens a sequence feeds per forward (0: its whole prompt at once), so that a long
  // prompt joining a running batch does not stall the sequences decoding beside it.
  TextGenerator(DecoderModel& model, std::shared_ptr<const Tokenizer> tokenizer, KvCache& cache,
                size_t prefill_chunk = 0);
  ~TextGenerator();

  using OnText = std::function<void(size_t request, std::string_view text)>;
  using OnDone = std::function<void(size_t request, Result<GenerationResult> result)>;
  // Runs every request to its end; `on_text` receives each request's text as it becomes
  // final, `on_done` its result or its own error (a prompt longer than the context) — one
  // call per request, in the order they finish. Returns an error only when the model fails.
  Status run(std::span<const GenerationRequest> requests, const OnText& on_text, const OnDone& on_done);

  // The same one step at a time, for a scheduler whose requests arrive while others decode
  // (a server): add() starts a request in a free slot, step() runs one forward over every
  // started sequence and reports through the callbacks as run() does, cancel() ends one.
  // Not thread-safe: one scheduler thread calls all three.
  //
  // Starts request `id` (the number the callbacks report) in a free slot; its own error
  // (invalid sampling, an empty stop string, a prompt that leaves no room in the context)
  // when it cannot run, and then nothing was started. Needs free_slots() > 0.
  Status add(size_t id, GenerationRequest request);
  size_t free_slots() const;
  size_t active() const;  // sequences started and not finished
  // One forward over the active sequences (prompt chunks and decode steps together).
  Status step(const OnText& on_text, const OnDone& on_done);
  // Ends request `id` now, freeing its slot, without a callback (its client is gone).
  void cancel(size_t id);

 private:
  struct Sequence;
  void emit_text(Sequence& s, const OnText& on_text);
  void finish(Sequence& s, const OnText& on_text, const OnDone& on_done);

  DecoderModel& model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  KvCache& cache_;
  size_t prefill_chunk_;
  std::vector<std::unique_ptr<Sequence>> slots_;  // nullptr: free
  std::vector<DecodeStep> steps_;
  std::vector<size_t> step_slot_;
  std::vector<float> logits_;
};

}  // namespace sparq::runtime
