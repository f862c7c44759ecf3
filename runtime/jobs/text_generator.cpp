#include "runtime/jobs/text_generator.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>

#include "runtime/text/chat_template.h"
#include "runtime/text/tokenizer_stream.h"

namespace sparq::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// Prompt tokens the detokenizer sees before the generated ones, so that the generated text
// keeps the leading space a SentencePiece decoder strips from the start of a text.
constexpr size_t kDecodeContext = 3;

// How much of `text` may be passed on: not a suffix that starts one of the stop strings.
size_t final_length(std::string_view text, const std::vector<std::string>& stop) {
  size_t held = text.size();
  for (const std::string& s : stop) {
    for (size_t n = std::min(s.size() - 1, text.size()); n > 0; --n) {
      if (text.substr(text.size() - n) == std::string_view(s).substr(0, n)) {
        held = std::min(held, text.size() - n);
        break;
      }
    }
  }
  return held;
}

}  // namespace

Result<ChatPrompt> chat_prompt(const DecoderModel& model, const Tokenizer& tokenizer, const nlohmann::json& messages) {
  const GenerationConfig& g = model.generation();
  if (g.chat_template.empty()) {
    return Error(fmt::format("{}: the model has no chat template (metadata.generation.chat_template); give a plain "
                             "prompt",
                             model.path()),
                 ErrorKind::invalid_argument);
  }
  auto tmpl = ChatTemplate::parse(g.chat_template);
  if (!tmpl) return tmpl.error().within(model.path() + ": metadata.generation.chat_template");
  ChatTemplateContext context;
  context.add_generation_prompt = true;
  if (g.bos_token_id >= 0) context.bos_token = tokenizer.id_to_token(int32_t(g.bos_token_id));
  if (!g.eos_token_ids.empty()) context.eos_token = tokenizer.id_to_token(int32_t(g.eos_token_ids.front()));
  auto text = tmpl->render(messages, context);
  if (!text) return text.error().within(model.path() + ": metadata.generation.chat_template");
  auto ids = tokenizer.encode_ids(*text);
  if (!ids) return ids.error();
  return ChatPrompt{std::move(*text), std::move(*ids)};
}

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
  std::optional<StreamingDetokenizer> detokenizer;  // fed the prompt's last tokens, then ours
  size_t emitted = 0;               // bytes of result.text already passed to on_text
  bool prefilled = false, done = false;
  int32_t next = 0;                 // the token to feed in the next forward
  Clock::time_point start;
};

TextGenerator::TextGenerator(DecoderModel& model, std::shared_ptr<const Tokenizer> tokenizer, KvCache& cache)
    : model_(model), tokenizer_(std::move(tokenizer)), cache_(cache) {}

Result<std::vector<int32_t>> prompt_tokens(const Tokenizer& tokenizer, std::string_view text) {
  auto e = tokenizer.encode(text, 0);
  if (!e) return e.error();
  return std::move(e->ids);
}

// Adds the text of the last token (all that is held back when the sequence is done), cuts
// the text at the first stop string, and passes on what can no longer change.
void TextGenerator::emit_text(Sequence& s, const OnText& on_text) {
  if (s.done) {
    s.result.text += s.detokenizer->finish();
  } else {
    s.result.text += s.detokenizer->push(s.result.tokens.back());
  }
  std::string& text = s.result.text;
  for (const std::string& stop : s.req->stop) {
    const size_t from = s.emitted >= stop.size() ? s.emitted - stop.size() : 0;
    if (size_t at = text.find(stop, from); at != std::string::npos) {
      text.resize(at);
      s.done = true;
      s.result.finish = FinishReason::stop;
    }
  }
  const size_t end = s.done ? text.size() : final_length(text, s.req->stop);
  if (end > s.emitted) {
    if (on_text) on_text(s.request, std::string_view(text).substr(s.emitted, end - s.emitted));
    s.emitted = end;
  }
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
    if (s.result.finish != FinishReason::stop) {  // release what was held back
      s.done = true;
      emit_text(s, on_text);
    }
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
      // An empty stop string would be found at once and end every text before it starts.
      if (std::find(req.stop.begin(), req.stop.end(), std::string()) != req.stop.end()) {
        on_done(r, Error("stop: an empty stop string", ErrorKind::invalid_argument));
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
      s.detokenizer.emplace(tokenizer_, true);
      for (size_t k = req.prompt.size() - std::min(kDecodeContext, req.prompt.size()); k < req.prompt.size(); ++k) {
        (void)s.detokenizer->push(req.prompt[k]);
      }
      (void)s.detokenizer->finish();
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
      emit_text(s, on_text);
      if (!s.done && (s.result.tokens.size() >= s.req->max_tokens || s.result.prompt_tokens + s.result.tokens.size() >= cache_.context())) {
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
