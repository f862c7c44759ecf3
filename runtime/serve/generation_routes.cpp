// The decoder routes, with the field names of the APIs they copy:
//   POST /v1/completions       OpenAI: {"model", "prompt", "max_tokens" (16), "temperature" (1),
//                              "top_p", "stop", "seed", "logprobs" (0-5), "frequency_penalty",
//                              "presence_penalty", "n" (1 only), "stream", "stream_options"}
//   POST /v1/chat/completions  OpenAI: {"model", "messages", "max_tokens" |
//                              "max_completion_tokens", "logprobs" (bool), "top_logprobs", ...}
//   POST /completion           llama-server: {"prompt", "n_predict" (-1: to the context),
//                              "temperature" (0.8), "top_k" (40), "top_p" (0.95), "min_p" (0.05),
//                              "repeat_penalty", "stop", "seed" (-1: random), "n_probs",
//                              "ignore_eos", "stream"}
// with "stream": true as server-sent events: OpenAI's chunks then "data: [DONE]", llama-server's
// {"content", "stop"} events. The OpenAI routes also take llama-server's extras top_k and
// min_p. A streamed response whose client goes away frees its sequence at the next step.
#include <fmt/core.h>

#include <atomic>
#include <ctime>
#include <random>

#include "runtime/serve/request_fields.h"
#include "runtime/serve/routes.h"

namespace sparq::serve {
namespace {

using runtime::FinishReason;
using runtime::GenerationRequest;
using runtime::GenerationResult;

enum class Route { completions, chat, llama };

ApiStyle style_of(Route r) { return r == Route::llama ? ApiStyle::llama : ApiStyle::openai; }

std::atomic<uint64_t> g_next_id{1};

uint64_t random_seed() {
  static std::random_device device;
  return (uint64_t(device()) << 32) | device();
}

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// What a request asked for, beyond the GenerationRequest.
struct Asked {
  GenerationRequest request;
  bool stream = false, include_usage = false, logprobs = false;
  std::string prompt_text;  // the rendered chat prompt (chat) or the prompt
};

// The request's sampling and stopping fields, with the route's API's defaults.
void read_sampling(Route route, FieldReader& r, GenerationService& service, Asked& a) {
  runtime::SamplingOptions& s = a.request.sampling;
  const bool llama = route == Route::llama;
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
  } else if (seed && !(llama && seed->get<int64_t>() == -1)) {
    s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : uint64_t(seed->get<int64_t>());
  } else {
    s.seed = random_seed();
  }
  const size_t room = service.context();
  if (llama) {
    const nlohmann::json* n = r.has("n_predict") ? &r.value("n_predict") : nullptr;
    if (n && (!n->is_number_integer() || n->get<int64_t>() < -1 || n->get<int64_t>() == 0)) {
      r.fail(validation_error("`n_predict`: expected -1 (to the context) or a positive integer", "n_predict"));
    } else if (n && n->get<int64_t>() > 0) {
      a.request.max_tokens = size_t(n->get<int64_t>());
    } else {
      a.request.max_tokens = room;
    }
    s.top_logprobs = r.integer("n_probs", 0, 0, 20);
    a.logprobs = s.top_logprobs > 0;
    a.request.ignore_eos = r.boolean("ignore_eos", false);
  } else {
    const char* max_field = route == Route::chat && r.has("max_completion_tokens") ? "max_completion_tokens"
                                                                                   : "max_tokens";
    a.request.max_tokens = r.integer(max_field, route == Route::chat ? room : 16, 1, 1u << 30);
    if (r.integer("n", 1, 1, 1) != 1) return;
    if (route == Route::completions) {
      a.logprobs = r.has("logprobs");
      s.top_logprobs = r.integer("logprobs", 0, 0, 5);
    } else {
      a.logprobs = r.boolean("logprobs", false);
      s.top_logprobs = r.integer("top_logprobs", 0, 0, 20);
    }
    if (const nlohmann::json* o = r.object_or_array("stream_options"); o && o->is_object()) {
      a.include_usage = o->value("include_usage", false);
    }
  }
  a.stream = r.boolean("stream", false);
  // "stop": a string or a list of strings.
  if (r.has("stop")) {
    TextInputs stop = r.texts("stop");
    a.request.stop = std::move(stop.texts);
    if (!llama && a.request.stop.size() > 4) r.fail(validation_error("`stop`: at most 4 stop strings", "stop"));
  }
  if (!r.failed()) {
    if (Status v = runtime::validate(s); !v) r.fail(validation_error(v.error().message()));
    for (const std::string& stop : a.request.stop) {
      if (stop.empty()) r.fail(validation_error("`stop`: an empty stop string", "stop"));
    }
  }
}

// The prompt: a text (completions), a conversation (chat), as token ids.
void read_prompt(Route route, FieldReader& r, const nlohmann::json& body, GenerationService& service, Asked& a) {
  if (route == Route::chat) {
    auto messages = body.find("messages");
    if (messages == body.end() || !messages->is_array() || messages->empty()) {
      return r.fail(validation_error("`messages`: expected a non-empty array of {\"role\", \"content\"}", "messages"));
    }
    for (const nlohmann::json& m : *messages) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
        return r.fail(validation_error("`messages`: each message needs a string \"role\"", "messages"));
      }
    }
    auto chat = service.chat_prompt(*messages);
    if (!chat) return r.fail(validation_error(chat.error().message(), "messages"));
    a.prompt_text = std::move(chat->text);
    a.request.prompt = std::move(chat->ids);
    return;
  }
  TextInputs prompt = r.texts("prompt");
  if (r.failed()) return;
  if (prompt.texts.size() != 1) return r.fail(validation_error("`prompt`: one prompt per request", "prompt"));
  a.prompt_text = prompt.texts[0];
  auto ids = runtime::prompt_tokens(service.tokenizer(), a.prompt_text);
  if (!ids) return r.fail(validation_error(fmt::format("`prompt`: {}", ids.error().message()), "prompt"));
  a.request.prompt = std::move(*ids);
}

std::string finish_reason(const GenerationResult& r) { return r.finish == FinishReason::length ? "length" : "stop"; }

std::string token_text(const runtime::Tokenizer& tok, int32_t id) { return tok.decode(std::span(&id, 1), false); }

nlohmann::json bytes_of(const std::string& s) {
  nlohmann::json b = nlohmann::json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

// OpenAI's legacy completions logprobs: tokens, token_logprobs, top_logprobs, text_offset.
nlohmann::ordered_json completion_logprobs(const GenerationResult& r, const runtime::Tokenizer& tok) {
  nlohmann::ordered_json j = {{"tokens", nlohmann::json::array()},
                              {"token_logprobs", nlohmann::json::array()},
                              {"top_logprobs", nlohmann::json::array()},
                              {"text_offset", nlohmann::json::array()}};
  size_t offset = 0;
  for (const runtime::SampledToken& t : r.sampled) {
    const std::string text = token_text(tok, t.token);
    j["tokens"].push_back(text);
    j["token_logprobs"].push_back(t.logprob);
    nlohmann::ordered_json top = nlohmann::ordered_json::object();
    for (const runtime::TokenLogprob& alt : t.top) top[token_text(tok, alt.token)] = alt.logprob;
    j["top_logprobs"].push_back(top);
    j["text_offset"].push_back(offset);
    offset += text.size();
  }
  return j;
}

// OpenAI's chat logprobs: {"content": [{"token", "logprob", "bytes", "top_logprobs"}]}.
nlohmann::ordered_json chat_logprobs(const GenerationResult& r, const runtime::Tokenizer& tok) {
  nlohmann::ordered_json content = nlohmann::ordered_json::array();
  for (const runtime::SampledToken& t : r.sampled) {
    const std::string text = token_text(tok, t.token);
    nlohmann::ordered_json top = nlohmann::ordered_json::array();
    for (const runtime::TokenLogprob& alt : t.top) {
      const std::string alt_text = token_text(tok, alt.token);
      top.push_back({{"token", alt_text}, {"logprob", alt.logprob}, {"bytes", bytes_of(alt_text)}});
    }
    content.push_back({{"token", text}, {"logprob", t.logprob}, {"bytes", bytes_of(text)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

nlohmann::ordered_json usage(const GenerationResult& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.tokens.size()},
          {"total_tokens", r.prompt_tokens + r.tokens.size()}};
}

// llama-server's closing fields.
nlohmann::ordered_json llama_final(const GenerationResult& r, const Asked& a, const std::string& model,
                                   const std::string& content, const runtime::Tokenizer& tok) {
  std::string stop_type = r.finish == FinishReason::eos ? "eos" : r.finish == FinishReason::stop ? "word" : "limit";
  const double prompt_ms = r.time_to_first_token_ms, predicted_ms = r.seconds * 1e3 - prompt_ms;
  nlohmann::ordered_json j = {{"content", content},
                              {"stop", true},
                              {"model", model},
                              {"tokens_predicted", r.tokens.size()},
                              {"tokens_evaluated", r.prompt_tokens},
                              {"stop_type", stop_type},
                              {"stopping_word", ""},
                              {"truncated", false},
                              {"timings",
                               {{"prompt_n", r.prompt_tokens},
                                {"prompt_ms", prompt_ms},
                                {"predicted_n", r.tokens.size()},
                                {"predicted_ms", predicted_ms},
                                {"predicted_per_second",
                                 predicted_ms > 0 ? double(r.tokens.size()) * 1e3 / predicted_ms : 0.0}}}};
  if (a.logprobs) {
    nlohmann::ordered_json probs = nlohmann::ordered_json::array();
    for (const runtime::SampledToken& t : r.sampled) {
      nlohmann::ordered_json top = nlohmann::ordered_json::array();
      for (const runtime::TokenLogprob& alt : t.top) {
        top.push_back({{"id", alt.token}, {"token", token_text(tok, alt.token)}, {"logprob", alt.logprob}});
      }
      probs.push_back({{"id", t.token}, {"token", token_text(tok, t.token)}, {"logprob", t.logprob}, {"top_logprobs", top}});
    }
    j["completion_probabilities"] = probs;
  }
  return j;
}

// The error a finished stream ended with, as an API error.
ApiError stream_error(const GenerationStream& s) {
  if (s.timed_out()) {
    ApiError e = unavailable_error(s.result().error().message());
    e.type = "overloaded";
    return e;
  }
  return backend_error(s.result().error().message());
}

struct Call {
  Route route;
  Asked asked;
  std::shared_ptr<GenerationStream> stream;
  std::string id, model;
  int64_t created = 0;
  const runtime::Tokenizer* tokenizer = nullptr;
};

// One non-streamed response, once the stream has ended.
void respond_whole(Call& c, httplib::Response& res) {
  std::string text;
  while (c.stream->next(text)) {
  }
  if (!c.stream->result()) return send_error(res, style_of(c.route), stream_error(*c.stream));
  const GenerationResult& r = *c.stream->result();
  nlohmann::ordered_json j;
  switch (c.route) {
    case Route::completions: {
      nlohmann::ordered_json choice = {{"text", r.text}, {"index", 0}, {"logprobs", nullptr},
                                       {"finish_reason", finish_reason(r)}};
      if (c.asked.logprobs) choice["logprobs"] = completion_logprobs(r, *c.tokenizer);
      j = {{"id", c.id}, {"object", "text_completion"}, {"created", c.created}, {"model", c.model},
           {"choices", {choice}}, {"usage", usage(r)}};
      break;
    }
    case Route::chat: {
      nlohmann::ordered_json choice = {{"index", 0},
                                       {"message", {{"role", "assistant"}, {"content", r.text}, {"refusal", nullptr}}},
                                       {"logprobs", nullptr},
                                       {"finish_reason", finish_reason(r)}};
      if (c.asked.logprobs) choice["logprobs"] = chat_logprobs(r, *c.tokenizer);
      j = {{"id", c.id}, {"object", "chat.completion"}, {"created", c.created}, {"model", c.model},
           {"choices", {choice}}, {"usage", usage(r)}};
      break;
    }
    case Route::llama: j = llama_final(r, c.asked, c.model, r.text, *c.tokenizer); break;
  }
  send_json(res, 200, dump(j));
}

// One server-sent event carrying `text` (streamed), or closing the stream (`r`).
std::string sse_chunk(const Call& c, const std::string& text, const GenerationResult* r, bool first) {
  nlohmann::ordered_json j;
  switch (c.route) {
    case Route::completions:
      j = {{"id", c.id}, {"object", "text_completion"}, {"created", c.created}, {"model", c.model},
           {"choices", {{{"text", text}, {"index", 0}, {"logprobs", nullptr},
                         {"finish_reason", r ? nlohmann::json(finish_reason(*r)) : nlohmann::json(nullptr)}}}}};
      break;
    case Route::chat: {
      nlohmann::ordered_json delta = nlohmann::ordered_json::object();
      if (first) delta["role"] = "assistant";
      if (!r || !text.empty()) delta["content"] = text;
      j = {{"id", c.id}, {"object", "chat.completion.chunk"}, {"created", c.created}, {"model", c.model},
           {"choices", {{{"index", 0}, {"delta", delta}, {"logprobs", nullptr},
                         {"finish_reason", r ? nlohmann::json(finish_reason(*r)) : nlohmann::json(nullptr)}}}}};
      break;
    }
    case Route::llama:
      j = r ? llama_final(*r, c.asked, c.model, text, *c.tokenizer) : nlohmann::ordered_json{{"content", text}, {"stop", false}};
      break;
  }
  return "data: " + dump(j) + "\n\n";
}

void respond_stream(std::shared_ptr<Call> call, httplib::Response& res) {
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream", [call, first = true](size_t, httplib::DataSink& sink) mutable {
    Call& c = *call;
    const auto send = [&](const std::string& event) {
      if (sink.is_writable() && sink.write(event.data(), event.size())) return true;
      c.stream->cancel();  // the client is gone: its sequence leaves at the next step
      return false;
    };
    std::string text;
    if (c.stream->next(text)) {
      const bool ok = send(sse_chunk(c, text, nullptr, first));
      first = false;
      return ok;
    }
    if (!c.stream->result()) {
      const ApiError e = stream_error(*c.stream);
      if (!send("data: " + error_body(style_of(c.route), e) + "\n\n")) return false;
    } else {
      const GenerationResult& r = *c.stream->result();
      if (c.route == Route::chat && first && !send(sse_chunk(c, "", nullptr, true))) return false;
      if (!send(sse_chunk(c, "", &r, false))) return false;
      if (c.route != Route::llama && c.asked.include_usage) {
        nlohmann::ordered_json u = {{"id", c.id}, {"object", c.route == Route::chat ? "chat.completion.chunk" : "text_completion"},
                                    {"created", c.created}, {"model", c.model}, {"choices", nlohmann::json::array()},
                                    {"usage", usage(r)}};
        if (!send("data: " + dump(u) + "\n\n")) return false;
      }
    }
    if (c.route != Route::llama && !send("data: [DONE]\n\n")) return false;
    sink.done();
    return true;
  });
}

void generate(Route route, ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const ApiStyle style = style_of(route);
  nlohmann::json body;
  if (auto e = parse_json_body(req.body, body)) return send_error(res, style, *e);
  FieldReader r(body);
  const std::string model = route == Route::llama ? std::string() : r.string("model");
  if (r.failed()) return send_error(res, style, r.error());
  GenerationService* service = ctx.models.load()->decoder(model);
  if (!service) {
    return send_error(res, style,
                      ApiError(404, "validation",
                               model.empty() ? std::string("no decoder model is served")
                                             : fmt::format("the model '{}' does not exist or is not a decoder", model),
                               "model"));
  }
  auto call = std::make_shared<Call>();
  call->route = route;
  read_prompt(route, r, body, *service, call->asked);
  read_sampling(route, r, *service, call->asked);
  if (r.failed()) return send_error(res, style, r.error());
  const size_t prompt = call->asked.request.prompt.size();
  if (prompt == 0 || prompt >= service->context()) {
    ApiError e(400, "validation",
               fmt::format("the prompt has {} tokens; the context holds {}, with room for at least one generated token",
                           prompt, service->context()),
               route == Route::chat ? "messages" : "prompt");
    return send_error(res, style, e);
  }
  const auto deadline = ctx.options.timeout_ms == 0
                            ? std::chrono::steady_clock::time_point::max()
                            : std::chrono::steady_clock::now() + std::chrono::milliseconds(ctx.options.timeout_ms);
  call->stream = service->submit(call->asked.request, deadline);
  if (!call->stream) {
    return send_error(res, style,
                      overloaded_error(fmt::format("model '{}' is overloaded: {} requests are waiting (--max-queue); "
                                                   "retry later",
                                                   service->name(), ctx.options.max_queue)));
  }
  call->id = fmt::format("{}-{}", route == Route::chat ? "chatcmpl" : "cmpl", g_next_id++);
  call->model = service->name();
  call->created = int64_t(std::time(nullptr));
  call->tokenizer = &service->tokenizer();
  if (call->asked.stream) return respond_stream(call, res);
  respond_whole(*call, res);
}

}  // namespace

void add_generation_routes(httplib::Server& server, ServerContext& ctx) {
  server.Post("/v1/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    generate(Route::completions, ctx, req, res);
  });
  server.Post("/v1/chat/completions", [&ctx](const httplib::Request& req, httplib::Response& res) {
    generate(Route::chat, ctx, req, res);
  });
  server.Post("/completion", [&ctx](const httplib::Request& req, httplib::Response& res) {
    generate(Route::llama, ctx, req, res);
  });
}

}  // namespace sparq::serve
