#include "runtime/serve/generation_route_requests.h"

#include <fmt/core.h>

#include "runtime/serve/request_fields.h"

namespace sparq::serve {
namespace {

// The sampling and stopping fields, with the route's API's defaults.
void read_sampling(GenerationRoute route, FieldReader& r, GenerationAsk& a) {
  runtime::SamplingOptions& s = a.sampling;
  const bool llama = route == GenerationRoute::llama;
  s.temperature = r.number("temperature", llama ? 0.8 : 1.0, 0, 2);
  s.top_p = r.number("top_p", llama ? 0.95 : 1.0, 0, 1);
  s.top_k = r.integer("top_k", llama ? 40 : 0, 0, 1u << 30);
  s.min_p = r.number("min_p", llama ? 0.05 : 0.0, 0, 1);
  s.frequency_penalty = r.number("frequency_penalty", 0, -2, 2);
  s.presence_penalty = r.number("presence_penalty", 0, -2, 2);
  if (llama) s.repetition_penalty = r.number("repeat_penalty", 1.0, 0.01, 100);
  // llama-server's -1 and OpenAI's absent seed: a random one.
  const nlohmann::json* seed = r.has("seed") ? &r.value("seed") : nullptr;
  if (seed && !seed->is_number_integer()) {
    r.fail(validation_error("`seed`: expected an integer", "seed"));
  } else if (seed && !(llama && seed->is_number_integer() && !seed->is_number_unsigned() && seed->get<int64_t>() == -1)) {
    s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : uint64_t(seed->get<int64_t>());
  } else {
    a.random_seed = true;
  }
  if (llama) {
    const nlohmann::json* n = r.has("n_predict") ? &r.value("n_predict") : nullptr;
    const bool valid = !n || (n->is_number_unsigned() && n->get<uint64_t>() > 0) ||
                       (n->is_number_integer() && !n->is_number_unsigned() && n->get<int64_t>() == -1);
    if (!valid) {
      r.fail(validation_error("`n_predict`: expected -1 (to the context) or a positive integer", "n_predict"));
    } else if (n && n->is_number_unsigned()) {
      a.max_tokens = size_t(n->get<uint64_t>());
    }
    s.top_logprobs = r.integer("n_probs", 0, 0, 20);
    a.logprobs = s.top_logprobs > 0;
    a.ignore_eos = r.boolean("ignore_eos", false);
  } else {
    const bool chat = route == GenerationRoute::chat;
    const char* max_field = chat && r.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    a.max_tokens = r.integer(max_field, chat ? 0 : 16, 1, 1u << 30);
    if (r.integer("n", 1, 1, 1) != 1) return;
    if (!chat) {
      a.logprobs = r.has("logprobs");
      s.top_logprobs = r.integer("logprobs", 0, 0, 5);
    } else {
      a.logprobs = r.boolean("logprobs", false);
      s.top_logprobs = r.integer("top_logprobs", 0, 0, 20);
    }
    if (const nlohmann::json* o = r.object_or_array("stream_options"); o && o->is_object()) {
      const auto usage = o->find("include_usage");
      if (usage != o->end() && !usage->is_boolean() && !usage->is_null()) {
        r.fail(validation_error("`stream_options.include_usage`: expected a boolean", "stream_options"));
      } else {
        a.include_usage = usage != o->end() && usage->is_boolean() && usage->get<bool>();
      }
    }
  }
  a.stream = r.boolean("stream", false);
  // "stop": a string or a list of strings.
  if (r.has("stop")) {
    TextInputs stop = r.texts("stop");
    a.stop = std::move(stop.texts);
    if (!llama && a.stop.size() > 4) r.fail(validation_error("`stop`: at most 4 stop strings", "stop"));
  }
  if (!r.failed()) {
    if (Status v = runtime::validate(s); !v) r.fail(validation_error(v.error().message()));
    for (const std::string& stop : a.stop) {
      if (stop.empty()) r.fail(validation_error("`stop`: an empty stop string", "stop"));
    }
  }
}

// The prompt: a text (completions, llama) or a conversation (chat).
void read_prompt(GenerationRoute route, FieldReader& r, const nlohmann::json& body, GenerationAsk& a) {
  if (route == GenerationRoute::chat) {
    auto messages = body.find("messages");
    if (messages == body.end() || !messages->is_array() || messages->empty()) {
      return r.fail(validation_error("`messages`: expected a non-empty array of {\"role\", \"content\"}", "messages"));
    }
    for (const nlohmann::json& m : *messages) {
      const auto role = m.is_object() ? m.find("role") : m.end();
      if (!m.is_object() || role == m.end() || !role->is_string()) {
        return r.fail(validation_error("`messages`: each message needs a string \"role\"", "messages"));
      }
    }
    a.messages = *messages;
    return;
  }
  TextInputs prompt = r.texts("prompt");
  if (r.failed()) return;
  if (prompt.texts.size() != 1) return r.fail(validation_error("`prompt`: one prompt per request", "prompt"));
  a.prompt = std::move(prompt.texts[0]);
}

}  // namespace

std::variant<GenerationAsk, ApiError> parse_generation_request(GenerationRoute route, std::string_view text) {
  nlohmann::json body;
  if (auto e = parse_json_body(text, body)) return *e;
  FieldReader r(body);
  GenerationAsk a;
  if (route != GenerationRoute::llama) a.model = r.string("model");
  read_prompt(route, r, body, a);
  read_sampling(route, r, a);
  if (r.failed()) return r.error();
  return a;
}

}  // namespace sparq::serve
