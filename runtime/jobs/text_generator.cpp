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

Result<ChatPrompter> ChatPrompter::create(const DecoderModel& model, std::shared_ptr<const Tokenizer> tokenizer) {
  const GenerationConfig& g = model.generation();
  if (g.chat_template.empty()) {
    return Error(fmt::format("{}: the model has no chat template (metadata.generation.chat_template); give a plain "
                             "prompt",
                             model.path()),
                 ErrorKind::invalid_argument);
  }
  std::string where = model.path() + ": metadata.generation.chat_template";
  auto tmpl = ChatTemplate::parse(g.chat_template);
  if (!tmpl) return tmpl.error().within(where);
  ChatTemplateContext context;
  context.add_generation_prompt = true;
  if (g.bos_token_id >= 0) context.bos_token = tokenizer->id_to_token(int32_t(g.bos_token_id));
  if (!g.eos_token_ids.empty()) context.eos_token = tokenizer->id_to_token(int32_t(g.eos_token_ids.front()));
  return ChatPrompter(std::move(*tmpl), std::move(context), std::move(tokenizer), std::move(where));
}

Result<ChatPrompt> ChatPrompter::render(const nlohmann::json& messages) const {
  auto text = template_.render(messages, context_);
  if (!text) return text.error().within(where_);
  auto ids = tokenizer_->encode_ids(*text);
  if (!ids) return ids.error();
  return ChatPrompt{std::move(*text), std::move(*ids)};
}

Result<ChatPrompt> chat_prompt(const DecoderModel& model, const Tokenizer& tokenizer, const nlohmann::json& messages) {
  // The prompter keeps a tokenizer it does not own here: it lives only in this call.
  auto prompter = ChatPrompter::create(model, std::shared_ptr<const Tokenizer>(&tokenizer, [](const Tokenizer*) {}));
  if (!prompter) return prompter.error();
  return prompter->render(messages);
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
  GenerationRequest req;
  std::optional<Sampler> sampler;
  GenerationResult result;
  std::optional<StreamingDetokenizer> detokenizer;  // fed the prompt's last tokens, then ours
  size_t emitted = 0;               // bytes of result.text already passed to on_text
  size_t prefilled = 0;             // prompt tokens in the cache
  bool done = false;
  int32_t next = 0;                 // the token to feed in the next forward
  Clock::time_point start;
};

TextGenerator::TextGenerator(DecoderModel& model, std::shared_ptr<const Tokenizer> tokenizer, KvCache& cache,
                             size_t prefill_chunk)
    : model_(model), tokenizer_(std::move(tokenizer)), cache_(cache), prefill_chunk_(prefill_chunk),
      slots_(cache.slots()) {}

TextGenerator::~TextGenerator() = default;

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
  for (const std::string& stop : s.req.stop) {
    const size_t from = s.emitted >= stop.size() ? s.emitted - stop.size() : 0;
    if (size_t at = text.find(stop, from); at != std::string::npos) {
      text.resize(at);
      s.done = true;
      s.result.finish = FinishReason::stop;
    }
  }
  const size_t end = s.done ? text.size() : final_length(text, s.req.stop);
  if (end > s.emitted) {
    if (on_text) on_text(s.request, std::string_view(text).substr(s.emitted, end - s.emitted));
    s.emitted = end;
  }
}

void TextGenerator::finish(Sequence& s, const OnText& on_text, const OnDone& on_done) {
  if (s.result.finish != FinishReason::stop) {  // release what was held back
    s.done = true;
    emit_text(s, on_text);
  }
  s.result.seconds = std::chrono::duration<double>(Clock::now() - s.start).count();
  cache_.clear(s.slot);
  const size_t request = s.request;
  GenerationResult result = std::move(s.result);
  slots_[s.slot].reset();
  on_done(request, std::move(result));
}

size_t TextGenerator::free_slots() const {
  return size_t(std::count(slots_.begin(), slots_.end(), nullptr));
}

size_t TextGenerator::active() const { return slots_.size() - free_slots(); }

Status TextGenerator::add(size_t id, GenerationRequest req) {
  if (Status v = validate(req.sampling); !v) return v;
  // An empty stop string would be found at once and end every text before it starts.
  if (std::find(req.stop.begin(), req.stop.end(), std::string()) != req.stop.end()) {
    return Error("stop: an empty stop string", ErrorKind::invalid_argument);
  }
  if (req.prompt.empty() || req.prompt.size() >= cache_.context()) {
    return Error(req.prompt.empty() ? std::string("the prompt has no tokens")
                                    : fmt::format("the prompt has {} tokens; the context holds {}, with room for at "
                                                  "least one generated token",
                                                  req.prompt.size(), cache_.context()),
                 ErrorKind::invalid_input);
  }
  const auto free = std::find(slots_.begin(), slots_.end(), nullptr);
  if (free == slots_.end()) return Error("no free KV-cache slot", ErrorKind::invalid_argument);
  auto s = std::make_unique<Sequence>();
  s->request = id;
  s->slot = size_t(free - slots_.begin());
  s->req = std::move(req);
  s->sampler.emplace(s->req.sampling);
  s->sampler->observe_prompt(s->req.prompt);
  s->result.prompt_tokens = s->req.prompt.size();
  s->detokenizer.emplace(tokenizer_, true);
  const std::vector<int32_t>& prompt = s->req.prompt;
  for (size_t k = prompt.size() - std::min(kDecodeContext, prompt.size()); k < prompt.size(); ++k) {
    (void)s->detokenizer->push(prompt[k]);
  }
  (void)s->detokenizer->finish();
  s->start = Clock::now();
  cache_.clear(s->slot);
  *free = std::move(s);
  return {};
}

void TextGenerator::cancel(size_t id) {
  for (std::unique_ptr<Sequence>& s : slots_) {
    if (s && s->request == id) {
      cache_.clear(s->slot);
      s.reset();
    }
  }
}

Status TextGenerator::step(const OnText& on_text, const OnDone& on_done) {
  const size_t V = model_.config().vocab_size;
  const std::vector<int64_t>& eos = model_.generation().eos_token_ids;
  steps_.clear();
  step_slot_.clear();
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    if (!slots_[slot]) continue;
    Sequence& s = *slots_[slot];
    std::span<const int32_t> tokens(&s.next, 1);
    if (s.prefilled < s.req.prompt.size()) {
      const size_t left = s.req.prompt.size() - s.prefilled;
      tokens = std::span<const int32_t>(s.req.prompt).subspan(s.prefilled, prefill_chunk_ ? std::min(left, prefill_chunk_) : left);
    }
    steps_.push_back({.slot = slot, .tokens = tokens});
    step_slot_.push_back(slot);
  }
  if (steps_.empty()) return {};
  logits_.resize(steps_.size() * V);
  if (Status st = model_.forward(steps_, cache_, logits_); !st) return st;

  for (size_t i = 0; i < steps_.size(); ++i) {
    Sequence& s = *slots_[step_slot_[i]];
    if (s.prefilled < s.req.prompt.size()) {
      s.prefilled += steps_[i].tokens.size();
      if (s.prefilled < s.req.prompt.size()) continue;  // more of the prompt first
      s.result.time_to_first_token_ms = std::chrono::duration<double, std::milli>(Clock::now() - s.start).count();
    }
    SampledToken t = s.sampler->sample(std::span<const float>(logits_).subspan(i * V, V));
    s.result.tokens.push_back(t.token);
    s.result.sampled.push_back(std::move(t));
    s.next = s.result.tokens.back();
    if (!s.req.ignore_eos && std::find(eos.begin(), eos.end(), int64_t(s.next)) != eos.end()) {
      s.result.finish = FinishReason::eos;
      finish(s, on_text, on_done);
      continue;
    }
    emit_text(s, on_text);
    if (!s.done && (s.result.tokens.size() >= s.req.max_tokens ||
                    s.result.prompt_tokens + s.result.tokens.size() >= cache_.context())) {
      s.result.finish = FinishReason::length;
      s.done = true;
    }
    if (s.done) finish(s, on_text, on_done);
  }
  return {};
}

Status TextGenerator::run(std::span<const GenerationRequest> requests, const OnText& on_text, const OnDone& on_done) {
  size_t next = 0;
  while (true) {
    // Waiting requests take the free slots; one that cannot run ends here.
    while (next < requests.size() && free_slots() > 0) {
      if (Status s = add(next, requests[next]); !s) on_done(next, s.error());
      ++next;
    }
    if (active() == 0) return {};
    if (Status s = step(on_text, on_done); !s) return s;
  }
}

}  // namespace sparq::runtime
