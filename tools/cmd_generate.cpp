// sparq generate: text from a decoder. With --prompt: streamed to the terminal as it is
// generated, or one JSON document with the text, the tokens, why it stopped and (on request)
// log-probabilities. With --input: a batch job (runtime/jobs/generation_job.h), one JSON line
// per prompt, resumable and shardable as classify's.
#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "runtime/jobs/generation_job.h"
#include "runtime/jobs/model_tokenizer.h"
#include "runtime/jobs/record_job.h"
#include "runtime/jobs/text_generator.h"
#include "runtime/model/decoder_model.h"
#include "tools/command.h"
#include "tools/job_options.h"
#include "tools/kv_cache_option.h"

namespace sparq::tools {
namespace {

struct GenerateArgs {
  runtime::GenerationJobOptions job;  // the model, sampling and chat options of both modes
  std::string prompt;
  bool token_ids = false, json = false, quiet = false;
};

// Each generated token with its log-probability and the `top` alternatives the sampler kept.
nlohmann::json logprobs_json(const std::vector<runtime::SampledToken>& sampled, const runtime::Tokenizer& tok) {
  nlohmann::json list = nlohmann::json::array();
  for (const runtime::SampledToken& t : sampled) {
    nlohmann::json top = nlohmann::json::array();
    for (const runtime::TokenLogprob& alt : t.top) {
      top.push_back({{"token", alt.token}, {"piece", tok.id_to_token(alt.token)}, {"logprob", alt.logprob}});
    }
    list.push_back({{"token", t.token}, {"piece", tok.id_to_token(t.token)}, {"logprob", t.logprob}, {"top", top}});
  }
  return list;
}

nlohmann::ordered_json result_json(const runtime::GenerationResult& r, const runtime::Tokenizer& tok, bool logprobs) {
  nlohmann::ordered_json j = {{"text", r.text},
                              {"tokens", r.tokens},
                              {"finish_reason", runtime::finish_reason_name(r.finish)},
                              {"prompt_tokens", r.prompt_tokens},
                              {"generated_tokens", r.tokens.size()},
                              {"time_to_first_token_ms", r.time_to_first_token_ms},
                              {"seconds", r.seconds}};
  if (logprobs) j["logprobs"] = logprobs_json(r.sampled, tok);
  return j;
}

// One JSON line per prompt: {"id", "index", "text", "finish_reason", "prompt_tokens",
// "generated_tokens"}, "seed" when the record was sampled, "tokens" (ids) and "logprobs" on
// request; an error record for a prompt that could not be generated.
class GeneratedRecordSink final : public runtime::GenerationSink {
 public:
  GeneratedRecordSink(runtime::OutputFile& out, const runtime::Tokenizer& tokenizer, bool token_ids, bool logprobs)
      : out_(out), tokenizer_(tokenizer), token_ids_(token_ids), logprobs_(logprobs) {}

  Status write(const runtime::Document& doc, const runtime::GeneratedRecord& g) override {
    if (g.error) return out_.write(runtime::error_record_json(doc, *g.error) + "\n");
    const runtime::GenerationResult& r = g.result;
    nlohmann::ordered_json j = {{"id", doc.id},
                                {"index", doc.index},
                                {"text", r.text},
                                {"finish_reason", runtime::finish_reason_name(r.finish)},
                                {"prompt_tokens", r.prompt_tokens},
                                {"generated_tokens", r.tokens.size()}};
    if (g.sampled) j["seed"] = g.seed;
    if (token_ids_) j["tokens"] = r.tokens;
    if (logprobs_) j["logprobs"] = logprobs_json(r.sampled, tokenizer_);
    return out_.write(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  }
  Status finish() override { return {}; }

 private:
  runtime::OutputFile& out_;
  const runtime::Tokenizer& tokenizer_;
  bool token_ids_, logprobs_;
};

void print_generation_summary(const runtime::GenerationJobSummary& s) {
  print_record_summary(s, "generated", "records");
  const runtime::GenerationStats& g = s.stats;
  std::string finished;
  for (const auto& [reason, n] : g.finish_reasons) {
    finished += fmt::format("{}{} {}", finished.empty() ? "" : ", ", reason, n);
  }
  fmt::print(stderr, "tokens: {} prompt, {} generated ({:.1f} generated tokens/s){}\n", g.prompt_tokens,
             g.generated_tokens, double(g.generated_tokens) / std::max(s.seconds, 1e-9),
             finished.empty() ? "" : "; finished by " + finished);
}

nlohmann::ordered_json generation_summary_json(const runtime::GenerationJobSummary& s,
                                              const runtime::GenerationJobOptions& job) {
  const runtime::GenerationStats& g = s.stats;
  nlohmann::ordered_json j = record_summary_json(s, "generate");
  j.update(nlohmann::ordered_json{{"seconds", s.seconds},
                                  {"prompt_tokens", g.prompt_tokens},
                                  {"generated_tokens", g.generated_tokens},
                                  {"generated_tokens_per_s", double(g.generated_tokens) / std::max(s.seconds, 1e-9)},
                                  {"finish_reasons", g.finish_reasons},
                                  {"kv_cache_type", kernels::kv_encoding_name(job.kv_cache)},
                                  {"kv_cache_bytes", s.kv_cache_bytes}});
  return j;
}

Status run_batch(GenerateArgs& a) {
  if (Status s = check_json_output(a.json, a.job.output); !s) return s;
  a.job.output_options = {{"token_ids", a.token_ids}};
  const bool logprobs = a.job.sampling.top_logprobs > 0;
  auto sink = [&](const runtime::DecoderModel&, const runtime::Tokenizer& tokenizer,
                  runtime::OutputFile& out) -> Result<std::unique_ptr<runtime::GenerationSink>> {
    return std::unique_ptr<runtime::GenerationSink>(new GeneratedRecordSink(out, tokenizer, a.token_ids, logprobs));
  };
  JobReporter reporter(a.quiet, !a.json, "prompts");
  Result<runtime::GenerationJobSummary> s = runtime::run_generation_job(a.job, sink, reporter.record_observer());
  reporter.finish();
  if (!s) return s.error();
  if (a.json) {
    fmt::print("{}\n", generation_summary_json(*s, a.job).dump(2));
  } else if (!a.quiet && !s->already_complete) {
    print_generation_summary(*s);
  }
  return {};
}

Status run_interactive(const GenerateArgs& args) {
  const runtime::GenerationJobOptions& a = args.job;
  if (Status s = runtime::validate(a.sampling); !s) return s;
  if (a.max_tokens == 0) return Error("--max-tokens: at least 1", ErrorKind::invalid_argument);
  if (Status s = runtime::apply_thread_count(a.threads); !s) return s;
  auto model = runtime::DecoderModel::load(a.model);
  if (!model) return model.error();
  runtime::DecoderModel& m = **model;
  auto tokenizer = runtime::tokenizer_from_metadata(m.metadata(), a.model, m.config().vocab_size);
  if (!tokenizer) return tokenizer.error();
  auto cache = m.make_cache(1, a.context, a.kv_cache);
  if (!cache) return cache.error();
  runtime::TextGenerator generator(m, *tokenizer, *cache);
  runtime::GenerationRequest request;
  std::string rendered;
  if (a.chat) {
    nlohmann::json messages = nlohmann::json::array();
    if (!a.system.empty()) messages.push_back({{"role", "system"}, {"content", a.system}});
    messages.push_back({{"role", "user"}, {"content", args.prompt}});
    auto chat = runtime::chat_prompt(m, **tokenizer, messages);
    if (!chat) return chat.error();
    rendered = std::move(chat->text);
    request.prompt = std::move(chat->ids);
  } else {
    auto prompt = runtime::prompt_tokens(**tokenizer, args.prompt);
    if (!prompt) return prompt.error().within("--prompt");
    request.prompt = std::move(*prompt);
  }
  request.max_tokens = a.max_tokens;
  request.sampling = a.sampling;
  request.stop = a.stop;
  request.ignore_eos = a.ignore_eos;

  std::optional<Result<runtime::GenerationResult>> result;
  const auto on_text = [&](size_t, std::string_view text) {
    if (args.json) return;
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  const auto on_done = [&](size_t, Result<runtime::GenerationResult> r) { result.emplace(std::move(r)); };
  if (Status s = generator.run({&request, 1}, on_text, on_done); !s) return s;
  if (!result->ok()) return result->error();
  const runtime::GenerationResult& r = **result;
  if (args.json) {
    nlohmann::ordered_json j = {{"model", a.model}, {"prompt", args.prompt}};
    if (a.chat) j["chat_prompt"] = rendered;
    j.update(result_json(r, **tokenizer, a.sampling.top_logprobs > 0));
    j["kv_cache_type"] = kernels::kv_encoding_name(cache->encoding());
    j["kv_cache_bytes"] = cache->bytes();
    fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return {};
  }
  fmt::print("\n");
  if (!args.quiet) {
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
  runtime::GenerationJobOptions& job = a->job;
  CLI::App* app = parent.add_subcommand(
      "generate",
      "Generate text with a .sparq decoder (Llama, Mistral, Qwen2 families). With --prompt: its continuation is "
      "streamed to stdout as it is generated, a summary (tokens, time to first token, tokens/s) goes to stderr; "
      "--json prints one JSON document instead (text, tokens, finish_reason, log-probabilities, KV-cache type and "
      "bytes). With --input: a "
      "batch job, one JSON line per input record in input order: {\"id\", \"index\", \"text\", \"finish_reason\", "
      "\"prompt_tokens\", \"generated_tokens\"} (\"seed\" when sampled), or {\"id\", \"index\", \"error\": "
      "{\"code\", \"message\"}} for a record that cannot be generated; a job writing a file is resumable and can "
      "be sharded, as classify's (see --output, --shard and `sparq merge`). Greedy unless --temperature is above 0; "
      "--seed makes sampled output reproducible (in a batch job, record i samples with a seed derived from --seed "
      "and i, whatever the batch, chunk or shard).");
  app->add_option("model", job.model, "The .sparq decoder")->required();
  CLI::Option* prompt =
      app->add_option("--prompt,-p", a->prompt, "The text to continue (with --chat: the user's message)");
  add_record_job_options(app, &job);
  CLI::Option* input = app->get_option("--input");
  input->description("A batch job over prompts: a file, or - for stdin. JSONL records hold the prompt in "
                     "--text-field or a conversation in \"messages\" ([{\"role\", \"content\"}], rendered with "
                     "the model's chat template), and may set their own \"max_tokens\", \"temperature\", "
                     "\"seed\" and \"stop\"; CSV and text (one prompt per line) hold prompts");
  prompt->excludes(input);
  add_batch_job_options(app, &job);
  app->get_option("--chunk-size")
      ->description("Prompts per chunk: generated together (continuous batching over --batch-size slots), then made "
                    "durable (a checkpoint, OUT.partial.checkpoint, that a resumed job starts from)");
  for (const char* batch_only : {"--output", "--format", "--text-field", "--id-field", "--max-text-bytes",
                                 "--chunk-size", "--restart", "--max-errors", "--shard"}) {
    app->get_option(batch_only)->needs(input);
  }
  app->add_option("--batch-size", job.batch_size,
                  "With --input: KV-cache slots, the prompts decoded together (continuous batching); the output does "
                  "not depend on it")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->needs(input);
  app->add_flag("--token-ids", a->token_ids, "With --input: add each record's generated token ids (\"tokens\")")
      ->needs(input);
  CLI::Option* chat = app->add_flag("--chat", job.chat,
                                    "Wrap the prompt as a user message in the model's chat template and answer it");
  app->add_option("--system", job.system, "With --chat: a system message before the user's")->needs(chat);
  app->add_option("--max-tokens,-n", job.max_tokens, "Tokens to generate at most")->capture_default_str();
  app->add_option("--temperature", job.sampling.temperature, "0: greedy; higher: more random")->capture_default_str();
  app->add_option("--top-k", job.sampling.top_k, "Sample from the k most likely tokens (0: all)")->capture_default_str();
  app->add_option("--top-p", job.sampling.top_p, "Sample from the smallest set reaching this probability")
      ->capture_default_str();
  app->add_option("--min-p", job.sampling.min_p, "Drop tokens less likely than this times the most likely one's")
      ->capture_default_str();
  app->add_option("--repetition-penalty", job.sampling.repetition_penalty,
                  "Divide the logits of tokens already in the prompt or output (Hugging Face's)")
      ->capture_default_str();
  app->add_option("--frequency-penalty", job.sampling.frequency_penalty,
                  "Subtract this per earlier occurrence in the output (OpenAI's)")
      ->capture_default_str();
  app->add_option("--presence-penalty", job.sampling.presence_penalty,
                  "Subtract this once a token occurs in the output (OpenAI's)")
      ->capture_default_str();
  app->add_option("--seed", job.sampling.seed, "Random seed of the sampler")->capture_default_str();
  app->add_option("--stop", job.stop, "Stop before this text (repeatable)");
  app->add_option("--logprobs", job.sampling.top_logprobs,
                  "With --json, or in each record of a batch job: this many alternatives per token (0-20)")
      ->capture_default_str();
  app->add_flag("--ignore-eos", job.ignore_eos, "Keep generating after the end-of-sequence token");
  app->add_option("--context", job.context, "KV-cache length in tokens (default: the model's context)");
  add_kv_cache_option(app, &job.kv_cache);
  app->add_option("--threads,-t", job.threads, "Threads (default: all CPUs, or OMP_NUM_THREADS)");
  add_json_flag(app, &a->json,
                "the result (text, tokens, finish_reason, timings, logprobs), or with --input the job's summary "
                "(needs -o FILE)");
  app->add_flag("--quiet,-q", a->quiet, "No progress and no summary on stderr");
  app->add_flag("--verbose,-v", job.verbose, "With --input: print the choices made: ISA, threads, KV cache, kernels")
      ->needs(input);
  return {app, [a, input, prompt]() -> Status {
            if (input->count() > 0) return run_batch(*a);
            if (prompt->count() == 0) {
              return Error("give --prompt TEXT, or --input FILE for a batch job over many prompts",
                           ErrorKind::invalid_argument);
            }
            return run_interactive(*a);
          }};
}

}  // namespace sparq::tools
