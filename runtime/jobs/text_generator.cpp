#include "runtime/jobs/text_generator.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>

namespace sparq::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// Prompt tokens decoded in front of the generated ones, so that the generated text keeps
// the leading space a SentencePiece decoder strips from the start of a text.
constexpr size_t kDecodeContext = 3;

// Where the text may be emitted up to: not into a trailing U+FFFD (bytes of a character
// still to come) nor into a suffix that starts one of the stop strings.
size_t final_length(const std::string& text, const std::vector<std::string>& stop) {
  size_t end = text.size();
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  while (end >= kReplacement.size() && std::string_view(text).substr(end - kReplacement.size(), 3) == kReplacement) {
    end -= kReplacement.size();
  }
  size_t held = end;
  for (const std::string& s : stop) {
    for (size_t n = std::min(s.size() - 1, end); n > 0; --n) {
      if (std::string_view(text).substr(end - n, n) == std::string_view(s).substr(0, n)) {
        held = std::min(held, end - n);
        break;
      }
    }
  }
  return held;
}

}  // namespace

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::eos: return "eos";
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
  }
  return "length";
}

struct TextGenerator::Sequence {
  size_t request = 0, slot = 0;
  const GenerationRequest* req = nullptr;
  std::optional<Sampler> sampler;
  GenerationResult result;
  std::vector<int32_t> decode_ids;  // the last prompt tokens, then the generated ones
  std::string prefix_text;          // decode of the prompt tokens in decode_ids
  size_t emitted = 0;               // bytes of result.text already passed to on_text
  bool prefilled = false, done = false;
  int32_t next = 0;                 // the token to feed in the next forward
  Clock::time_point start;
};

TextGenerator::TextGenerator(DecoderModel& model, const Tokenizer& tokenizer, KvCache& cache)
    : model_(model), tokenizer_(tokenizer), cache_(cache) {}

Result<std::vector<int32_t>> TextGenerator::prompt_tokens(std::string_view text) const {
  auto e = tokenizer_.encode(text, 0);
  if (!e) return e.error();
  return std::move(e->ids);
}

// Decodes the generated tokens (after the prompt's last few, whose text is cut off again),
// stops at a stop string, and passes on the part of the text that can no longer change.
void TextGenerator::emit_text(Sequence& s, const OnText& on_text) {
  std::string all = tokenizer_.decode(s.decode_ids, true);
  std::string text = all.starts_with(s.prefix_text)
                         ? all.substr(s.prefix_text.size())
                         : tokenizer_.decode(std::span(s.decode_ids).subspan(s.decode_ids.size() - s.result.tokens.size()), true);
  size_t end = text.size();
  for (const std::string& stop : s.req->stop) {
    const size_t from = s.emitted >= stop.size() ? s.emitted - stop.size() : 0;
    if (size_t at = text.find(stop, from); at != std::string::npos && at < end) {
      end = at;
      s.done = true;
      s.result.finish = FinishReason::stop;
    }
  }
  if (!s.done) end = final_length(text.substr(0, end), s.req->stop);
  if (s.done && s.result.finish != FinishReason::stop) end = text.size();
  text.resize(end);
  if (end > s.emitted) {
    if (on_text) on_text(s.request, std::string_view(text).substr(s.emitted));
    s.emitted = end;
  }
  s.result.text = std::move(text);
}

Status TextGenerator::run(std::span<const GenerationRequest> requests, const OnText& on_text, const OnDone& on_done) {
  const size_t V = model_.config().vocab_size;
  const std::vector<int64_t>& eos = model_.generation().eos_token_ids;
  std::deque<size_t> waiting;
  for (size_t i = 0; i < requests.size(); ++i) waiting.push_back(i);
  std::vector<std::optional<Sequence>> slots(cache_.slots());
  std::vector<DecodeStep> steps;
  std::vector<size_t> step_slot;
  std::vector<float> logits;

  const auto finish = [&](Sequence& s) {
    // The text the last token completed, including a character held back as incomplete.
    s.done = true;
    emit_text(s, on_text);
    s.result.seconds = std::chrono::duration<double>(Clock::now() - s.start).count();
    cache_.clear(s.slot);
    on_done(s.request, std::move(s.result));
  };

  while (true) {
    // Admit waiting requests into free slots; a request that cannot run ends here.
    for (size_t slot = 0; slot < slots.size() && !waiting.empty();) {
      if (slots[slot]) {
        ++slot;
        continue;
      }
      const size_t r = waiting.front();
      waiting.pop_front();
      const GenerationRequest& req = requests[r];
      if (Status v = validate(req.sampling); !v) {
        on_done(r, v.error());
        continue;
      }
      if (req.prompt.empty() || req.prompt.size() >= cache_.context()) {
        on_done(r, Error(req.prompt.empty()
                             ? std::string("the prompt has no tokens")
                             : fmt::format("the prompt has {} tokens; the context holds {}, with room for at least "
                                           "one generated token",
                                           req.prompt.size(), cache_.context()),
                         ErrorKind::invalid_input));
        continue;
      }
      Sequence& s = slots[slot].emplace();
      s.request = r;
      s.slot = slot;
      s.req = &req;
      s.sampler.emplace(req.sampling);
      s.sampler->observe_prompt(req.prompt);
      s.result.prompt_tokens = req.prompt.size();
      const size_t context = std::min(kDecodeContext, req.prompt.size());
      s.decode_ids.assign(req.prompt.end() - context, req.prompt.end());
      s.prefix_text = tokenizer_.decode(s.decode_ids, true);
      s.start = Clock::now();
      cache_.clear(slot);
    }
    steps.clear();
    step_slot.clear();
    for (size_t slot = 0; slot < slots.size(); ++slot) {
      if (!slots[slot]) continue;
      Sequence& s = *slots[slot];
      steps.push_back({.slot = slot, .tokens = s.prefilled ? std::span(&s.next, 1) : std::span(s.req->prompt)});
      step_slot.push_back(slot);
    }
    if (steps.empty()) return {};
    logits.resize(steps.size() * V);
    if (Status st = model_.forward(steps, cache_, logits); !st) return st;

    for (size_t i = 0; i < steps.size(); ++i) {
      Sequence& s = *slots[step_slot[i]];
      if (!s.prefilled) {
        s.prefilled = true;
        s.result.time_to_first_token_ms = std::chrono::duration<double, std::milli>(Clock::now() - s.start).count();
      }
      SampledToken t = s.sampler->sample(std::span<const float>(logits).subspan(i * V, V));
      s.result.tokens.push_back(t.token);
      s.result.sampled.push_back(std::move(t));
      s.next = s.result.tokens.back();
      if (!s.req->ignore_eos && std::find(eos.begin(), eos.end(), int64_t(s.next)) != eos.end()) {
        s.result.finish = FinishReason::eos;
        finish(s);
        slots[step_slot[i]].reset();
        continue;
      }
      s.decode_ids.push_back(s.next);
      emit_text(s, on_text);
      if (!s.done && (s.result.tokens.size() >= s.req->max_tokens || cache_.length(s.slot) + 1 > cache_.context())) {
        s.result.finish = FinishReason::length;
        s.done = true;
      }
      if (s.done) {
        finish(s);
        slots[step_slot[i]].reset();
      }
    }
  }
}

}  // namespace sparq::runtime
