// sparq generate: text from a decoder, streamed to the terminal as it is generated, or one
// JSON document with the text, the tokens, why it stopped and (on request) log-probabilities.
#include <fmt/core.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "runtime/jobs/document_job.h"
#include "runtime/jobs/model_tokenizer.h"
#include "runtime/jobs/text_generator.h"
#include "runtime/model/decoder_model.h"
#include "tools/command.h"

namespace sparq::tools {
namespace {

struct GenerateArgs {
  std::string model, prompt, system;
  bool chat = false;
  size_t max_tokens = 256, context = 0;
  runtime::SamplingOptions sampling;
  std::vector<std::string> stop;
  bool ignore_eos = false, json = false, quiet = false;
  int threads = 0;
};

nlohmann::ordered_json result_json(const runtime::GenerationResult& r, const runtime::Tokenizer& tok, bool logprobs) {
  nlohmann::ordered_json j = {{"text", r.text},
                              {"tokens", r.tokens},
                              {"finish_reason", runtime::finish_reason_name(r.finish)},
                              {"prompt_tokens", r.prompt_tokens},
                              {"generated_tokens", r.tokens.size()},
                              {"time_to_first_token_ms", r.time_to_first_token_ms},
                              {"seconds", r.seconds}};
  if (logprobs) {
    nlohmann::json list = nlohmann::json::array();
    for (const runtime::SampledToken& t : r.sampled) {
      nlohmann::json top = nlohmann::json::array();
      for (const runtime::TokenLogprob& alt : t.top) {
        top.push_back({{"token", alt.token}, {"piece", tok.id_to_token(alt.token)}, {"logprob", alt.logprob}});
      }
      list.push_back({{"token", t.token}, {"piece", tok.id_to_token(t.token)}, {"logprob", t.logprob}, {"top", top}});
    }
    j["logprobs"] = list;
  }
  return j;
}

Status run_generate(const GenerateArgs& a) {
  if (Status s = runtime::validate(a.sampling); !s) return s;
  if (a.max_tokens == 0) return Error("--max-tokens: at least 1", ErrorKind::invalid_argument);
  if (Status s = runtime::apply_thread_count(a.threads); !s) return s;
  auto model = runtime::DecoderModel::load(a.model);
  if (!model) return model.error();
  runtime::DecoderModel& m = **model;
  auto tokenizer = runtime::tokenizer_from_metadata(m.metadata(), a.model, m.config().vocab_size);
  if (!tokenizer) return tokenizer.error();
  auto cache = m.make_cache(1, a.context);
  if (!cache) return cache.error();
  runtime::TextGenerator generator(m, *tokenizer, *cache);
  runtime::GenerationRequest request;
  std::string rendered;
  if (a.chat) {
    nlohmann::json messages = nlohmann::json::array();
    if (!a.system.empty()) messages.push_back({{"role", "system"}, {"content", a.system}});
    messages.push_back({{"role", "user"}, {"content", a.prompt}});
    auto chat = runtime::chat_prompt(m, **tokenizer, messages);
    if (!chat) return chat.error();
    rendered = std::move(chat->text);
    request.prompt = std::move(chat->ids);
  } else {
    auto prompt = runtime::prompt_tokens(**tokenizer, a.prompt);
    if (!prompt) return prompt.error().within("--prompt");
    request.prompt = std::move(*prompt);
  }
  request.max_tokens = a.max_tokens;
  request.sampling = a.sampling;
  request.stop = a.stop;
  request.ignore_eos = a.ignore_eos;

  std::optional<Result<runtime::GenerationResult>> result;
  const auto on_text = [&](size_t, std::string_view text) {
    if (a.json) return;
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  const auto on_done = [&](size_t, Result<runtime::GenerationResult> r) { result.emplace(std::move(r)); };
  if (Status s = generator.run({&request, 1}, on_text, on_done); !s) return s;
  if (!result->ok()) return result->error();
  const runtime::GenerationResult& r = **result;
  if (a.json) {
    nlohmann::ordered_json j = {{"model", a.model}, {"prompt", a.prompt}};
    if (a.chat) j["chat_prompt"] = rendered;
    j.update(result_json(r, **tokenizer, a.sampling.top_logprobs > 0));
    fmt::print("{}\n", j.dump(2));
    return {};
  }
  fmt::print("\n");
  if (!a.quiet) {
    const double decode_s = r.seconds - r.time_to_first_token_ms / 1000;
    fmt::print(stderr, "[{} prompt + {} generated tokens, stopped by {}; first token after {:.0f} ms, then {:.1f} tokens/s]\n",
               r.prompt_tokens, r.tokens.size(), runtime::finish_reason_name(r.finish), r.time_to_first_token_ms,
               r.tokens.size() > 1 && decode_s > 0 ? double(r.tokens.size() - 1) / decode_s : 0.0);
  }
  return {};
}

}  // namespace

Command add_generate_command(CLI::App& parent) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* app = parent.add_subcommand(
      "generate",
      "Generate text with a .sparq decoder (Llama, Mistral, Qwen2 families): the continuation of --prompt is "
      "streamed to stdout as it is generated, a summary (tokens, time to first token, tokens/s) goes to stderr; "
      "--json prints one JSON document instead (text, tokens, finish_reason, log-probabilities). Greedy unless "
      "--temperature is above 0; --seed makes sampled output reproducible.");
  app->add_option("model", a->model, "The .sparq decoder")->required();
  app->add_option("--prompt,-p", a->prompt, "The text to continue (with --chat: the user's message)")->required();
  CLI::Option* chat = app->add_flag("--chat", a->chat,
                                    "Wrap the prompt as a user message in the model's chat template and answer it");
  app->add_option("--system", a->system, "With --chat: a system message before the user's")->needs(chat);
  app->add_option("--max-tokens,-n", a->max_tokens, "Tokens to generate at most")->capture_default_str();
  app->add_option("--temperature", a->sampling.temperature, "0: greedy; higher: more random")->capture_default_str();
  app->add_option("--top-k", a->sampling.top_k, "Sample from the k most likely tokens (0: all)")->capture_default_str();
  app->add_option("--top-p", a->sampling.top_p, "Sample from the smallest set reaching this probability")
      ->capture_default_str();
  app->add_option("--min-p", a->sampling.min_p, "Drop tokens less likely than this times the most likely one's")
      ->capture_default_str();
  app->add_option("--repetition-penalty", a->sampling.repetition_penalty,
                  "Divide the logits of tokens already in the prompt or output (Hugging Face's)")
      ->capture_default_str();
  app->add_option("--frequency-penalty", a->sampling.frequency_penalty,
                  "Subtract this per earlier occurrence in the output (OpenAI's)")
      ->capture_default_str();
  app->add_option("--presence-penalty", a->sampling.presence_penalty,
                  "Subtract this once a token occurs in the output (OpenAI's)")
      ->capture_default_str();
  app->add_option("--seed", a->sampling.seed, "Random seed of the sampler")->capture_default_str();
  app->add_option("--stop", a->stop, "Stop before this text (repeatable)");
  app->add_option("--logprobs", a->sampling.top_logprobs, "With --json: this many alternatives per token (0-20)")
      ->capture_default_str();
  app->add_flag("--ignore-eos", a->ignore_eos, "Keep generating after the end-of-sequence token");
  app->add_option("--context", a->context, "KV-cache length in tokens (default: the model's context)");
  app->add_option("--threads,-t", a->threads, "Threads (default: all CPUs, or OMP_NUM_THREADS)");
  add_json_flag(app, &a->json, "the result (text, tokens, finish_reason, timings, logprobs)");
  app->add_flag("--quiet,-q", a->quiet, "No summary on stderr");
  return {app, [a] { return run_generate(*a); }};
}

}  // namespace sparq::tools
