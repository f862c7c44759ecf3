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

#include "runtime/serve/generation_route_requests.h"
#include "runtime/serve/routes.h"

namespace sparq::serve {
namespace {

using runtime::FinishReason;
using runtime::GenerationRequest;
using runtime::GenerationResult;

using Route = GenerationRoute;

ApiStyle style_of(Route r) { return r == Route::llama ? ApiStyle::llama : ApiStyle::openai; }

std::atomic<uint64_t> g_next_id{1};

uint64_t random_seed() {
  static std::random_device device;
  return (uint64_t(device()) << 32) | device();
}

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
nlohmann::ordered_json llama_final(const GenerationResult& r, const GenerationAsk& a, const std::string& model,
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
  GenerationAsk asked;
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
  // nginx passes the events on as they come, also where proxy_buffering is left on.
  res.set_header("X-Accel-Buffering", "no");
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

// The request's prompt as token ids: the text's (completions, llama) or the rendered
// conversation's (chat), or the error to answer.
std::optional<ApiError> prompt_ids(Route route, const GenerationAsk& asked, GenerationService& service,
                                   std::vector<int32_t>& ids) {
  if (route == Route::chat) {
    auto chat = service.chat_prompt(asked.messages);
    if (!chat) return validation_error(chat.error().message(), "messages");
    ids = std::move(chat->ids);
    return std::nullopt;
  }
  auto tokens = runtime::prompt_tokens(service.tokenizer(), asked.prompt);
  if (!tokens) return validation_error(fmt::format("`prompt`: {}", tokens.error().message()), "prompt");
  ids = std::move(*tokens);
  return std::nullopt;
}

void generate(Route route, ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const ApiStyle style = style_of(route);
  auto parsed = parse_generation_request(route, req.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, style, *e);
  auto call = std::make_shared<Call>();
  call->route = route;
  call->asked = std::move(std::get<GenerationAsk>(parsed));
  const GenerationAsk& asked = call->asked;
  GenerationService* service = ctx.models.load()->decoder(asked.model);
  if (!service) {
    return send_error(res, style,
                      ApiError(404, "validation",
                               asked.model.empty()
                                   ? std::string("no decoder model is served")
                                   : fmt::format("the model '{}' does not exist or is not a decoder", asked.model),
                               "model"));
  }
  GenerationRequest request;
  if (auto e = prompt_ids(route, asked, *service, request.prompt)) return send_error(res, style, *e);
  request.sampling = asked.sampling;
  if (asked.random_seed) request.sampling.seed = random_seed();
  request.max_tokens = asked.max_tokens == 0 ? service->context() : asked.max_tokens;
  request.stop = asked.stop;
  request.ignore_eos = asked.ignore_eos;
  const size_t prompt = request.prompt.size();
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
  call->stream = service->submit(std::move(request), deadline);
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
