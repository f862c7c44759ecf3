#include "runtime/jobs/generation_job.h"

#include <fmt/core.h>
#include <xxhash.h>

#include <array>

#include "runtime/jobs/model_tokenizer.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

// A record's own settings, checked; errors name the line and the field.
std::optional<RecordError> apply_record_fields(const Document& doc, GenerationRequest& request, bool& seeded) {
  if (!doc.fields.is_object()) return std::nullopt;
  auto invalid = [&](const char* field, const std::string& what) {
    return RecordError{"invalid_field", fmt::format("line {}: {}: {}", doc.line, field, what)};
  };
  const json& f = doc.fields;
  if (auto it = f.find("max_tokens"); it != f.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() == 0) {
      return invalid("max_tokens", fmt::format("expected a positive integer, got {}", it->dump()));
    }
    request.max_tokens = it->get<size_t>();
  }
  if (auto it = f.find("temperature"); it != f.end()) {
    if (!it->is_number()) return invalid("temperature", fmt::format("expected a number, got {}", it->dump()));
    request.sampling.temperature = it->get<double>();
    if (Status s = validate(request.sampling); !s) {
      return RecordError{"invalid_field", fmt::format("line {}: {}", doc.line, s.error().message())};
    }
  }
  if (auto it = f.find("seed"); it != f.end()) {
    if (!it->is_number_unsigned()) {
      return invalid("seed", fmt::format("expected a non-negative integer, got {}", it->dump()));
    }
    request.sampling.seed = it->get<uint64_t>();
    seeded = true;
  }
  if (auto it = f.find("stop"); it != f.end()) {
    const json list = it->is_string() ? json::array({*it}) : *it;
    if (!list.is_array()) {
      return invalid("stop", fmt::format("expected a string or a list of strings, got {}", it->type_name()));
    }
    request.stop.clear();
    for (const json& s : list) {
      if (!s.is_string() || s.get_ref<const std::string&>().empty()) {
        return invalid("stop", fmt::format("expected non-empty strings, got {}", s.dump()));
      }
      request.stop.push_back(s.get<std::string>());
    }
  }
  return std::nullopt;
}

class GenerationStep final : public RecordStep {
 public:
  GenerationStep(const GenerationJobOptions& o, DecoderModel& model, std::shared_ptr<const Tokenizer> tokenizer,
                 KvCache cache, const GenerationSinkFactory& make_sink)
      : o_(o),
        model_(model),
        tokenizer_(std::move(tokenizer)),
        cache_(std::move(cache)),
        generator_(model, tokenizer_, cache_),
        make_sink_(make_sink) {}

  const GenerationStats& stats() const { return stats_; }
  uint64_t kv_cache_bytes() const { return cache_.bytes(); }

  nlohmann::json fingerprint() const override {
    const SamplingOptions& s = o_.sampling;
    return {{"task", "generate"},
            {"generation",
             {{"max_tokens", o_.max_tokens},
              {"sampling",
               {{"temperature", s.temperature},
                {"top_k", s.top_k},
                {"top_p", s.top_p},
                {"min_p", s.min_p},
                {"repetition_penalty", s.repetition_penalty},
                {"frequency_penalty", s.frequency_penalty},
                {"presence_penalty", s.presence_penalty},
                {"seed", s.seed},
                {"top_logprobs", s.top_logprobs}}},
              {"stop", o_.stop},
              {"ignore_eos", o_.ignore_eos},
              {"chat", o_.chat},
              {"system", o_.system},
              {"context", cache_.context()},
              {"kv_cache", kernels::kv_encoding_name(cache_.encoding())}}}};
  }
  std::vector<std::string> describe() const override {
    std::vector<std::string> lines = {fmt::format("{} KV-cache slots of {} tokens ({:.1f} MiB, {}); up to {} tokens "
                                                  "per prompt",
                                                  cache_.slots(), cache_.context(), double(cache_.bytes()) / (1 << 20),
                                                  kernels::kv_encoding_name(cache_.encoding()), o_.max_tokens)};
    for (const std::string& line : model_.describe_kernels()) lines.push_back("  " + line);
    return lines;
  }
  Status begin(OutputFile& out, uint64_t records_written) override {
    Result<std::unique_ptr<GenerationSink>> sink = make_sink_(model_, *tokenizer_, out);
    if (!sink) return sink.error();
    sink_ = std::move(*sink);
    return sink_->begin(records_written);
  }

  Status process(std::span<const Document> docs, std::vector<RecordOutcome>& outcomes,
                 const std::function<void(size_t done)>& on_progress) override {
    records_.assign(docs.size(), GeneratedRecord{});
    requests_.clear();
    request_record_.clear();
    for (size_t i = 0; i < docs.size(); ++i) {
      GenerationRequest request;
      if (std::optional<RecordError> e = docs[i].error ? docs[i].error : prepare(docs[i], request, records_[i])) {
        records_[i].error = std::move(e);
        continue;
      }
      requests_.push_back(std::move(request));
      request_record_.push_back(i);
    }
    const size_t failed = docs.size() - requests_.size();
    size_t done = 0;
    if (on_progress && failed) on_progress(failed);
    Status s = generator_.run(requests_, {}, [&](size_t r, Result<GenerationResult> result) {
      GeneratedRecord& g = records_[request_record_[r]];
      if (result) {
        g.result = std::move(*result);
      } else {
        g.error = RecordError{"generation_failed", result.error().message()};
      }
      if (on_progress) on_progress(failed + ++done);
    });
    if (!s) return s;
    for (size_t i = 0; i < docs.size(); ++i) {
      const GeneratedRecord& g = records_[i];
      ++stats_.records;
      if (g.error) {
        ++stats_.errors;
        outcomes[i].error_code = g.error->code;
      } else {
        stats_.prompt_tokens += g.result.prompt_tokens;
        stats_.generated_tokens += g.result.tokens.size();
        ++stats_.finish_reasons[std::string(finish_reason_name(g.result.finish))];
      }
      if (Status w = sink_->write(docs[i], g); !w) return w;
    }
    return {};
  }
  Status finish() override { return sink_->finish(); }

 private:
  // The request for one record, or why there is none.
  std::optional<RecordError> prepare(const Document& doc, GenerationRequest& request, GeneratedRecord& g) const {
    request.max_tokens = o_.max_tokens;
    request.sampling = o_.sampling;
    request.stop = o_.stop;
    request.ignore_eos = o_.ignore_eos;
    bool seeded = false;
    if (std::optional<RecordError> e = apply_record_fields(doc, request, seeded)) return e;
    if (!seeded) request.sampling.seed = record_seed(o_.sampling.seed, doc.index);
    g.seed = request.sampling.seed;
    g.sampled = request.sampling.temperature > 0;

    if (!doc.messages.is_null() || o_.chat) {
      json messages = doc.messages;
      if (messages.is_null()) {
        messages = json::array();
        if (!o_.system.empty()) messages.push_back({{"role", "system"}, {"content", o_.system}});
        messages.push_back({{"role", "user"}, {"content", doc.text}});
      }
      Result<ChatPrompt> chat = chat_prompt(model_, *tokenizer_, messages);
      if (!chat) {
        return RecordError{"chat_template_failed", fmt::format("line {}: {}", doc.line, chat.error().message())};
      }
      request.prompt = std::move(chat->ids);
    } else {
      Result<std::vector<int32_t>> ids = prompt_tokens(*tokenizer_, doc.text);
      if (!ids) return RecordError{"tokenize_failed", ids.error().message()};
      request.prompt = std::move(*ids);
    }
    if (request.prompt.empty()) return RecordError{"empty_text", "the prompt has no tokens"};
    if (request.prompt.size() >= cache_.context()) {
      return RecordError{"prompt_too_long",
                         fmt::format("the prompt has {} tokens; the context holds {}, with room for at least one "
                                     "generated token",
                                     request.prompt.size(), cache_.context())};
    }
    return std::nullopt;
  }

  const GenerationJobOptions& o_;
  DecoderModel& model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  KvCache cache_;
  TextGenerator generator_;
  const GenerationSinkFactory& make_sink_;
  std::unique_ptr<GenerationSink> sink_;
  std::vector<GeneratedRecord> records_;
  std::vector<GenerationRequest> requests_;
  std::vector<size_t> request_record_;  // requests_[k] is for records_[request_record_[k]]
  GenerationStats stats_;
};

}  // namespace

GenerationJobOptions::GenerationJobOptions() {
  text_field = "prompt";
  messages_field = "messages";
  extra_fields = {"max_tokens", "temperature", "seed", "stop"};
  // A chunk is generated, then made durable: minutes of decoding at most, not hours.
  chunk = 64;
}

uint64_t record_seed(uint64_t job_seed, uint64_t index) {
  std::array<unsigned char, 8> bytes;
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(index >> (8 * i));
  return XXH3_64bits_withSeed(bytes.data(), bytes.size(), job_seed);
}

Result<GenerationJobSummary> run_generation_job(const GenerationJobOptions& o, const GenerationSinkFactory& make_sink,
                                                const RecordJobObserver& observer) {
  // Before loading: packing the weights already runs on the kernels' threads.
  if (Status s = apply_thread_count(o.threads); !s) return s.error();
  Result<std::unique_ptr<DecoderModel>> model = DecoderModel::load(o.model);
  if (!model) return model.error();
  return run_generation_job(o, **model, make_sink, observer);
}

Result<GenerationJobSummary> run_generation_job(const GenerationJobOptions& o, DecoderModel& model,
                                                const GenerationSinkFactory& make_sink,
                                                const RecordJobObserver& observer) {
  if (Status s = validate(o.sampling); !s) return s.error();
  if (o.max_tokens == 0) return Error("max_tokens: at least 1", ErrorKind::invalid_argument).about("max_tokens");
  if (o.batch_size == 0) return Error("batch size: at least 1", ErrorKind::invalid_argument).about("batch_size");
  if (std::find(o.stop.begin(), o.stop.end(), std::string()) != o.stop.end()) {
    return Error("stop: an empty stop string", ErrorKind::invalid_argument).about("stop");
  }
  if (o.chat && model.generation().chat_template.empty()) {
    return Error(fmt::format("{}: the model has no chat template (metadata.generation.chat_template); give plain "
                             "prompts",
                             model.path()),
                 ErrorKind::invalid_argument)
        .about("chat");
  }
  Result<std::shared_ptr<const Tokenizer>> tokenizer =
      tokenizer_from_metadata(model.metadata(), model.path(), model.config().vocab_size);
  if (!tokenizer) return tokenizer.error();
  Result<KvCache> cache = model.make_cache(o.batch_size, o.context, o.kv_cache);
  if (!cache) return cache.error();
  GenerationStep step(o, model, std::move(*tokenizer), std::move(*cache), make_sink);
  Result<RecordJobSummary> done = run_record_job(o, step, observer);
  if (!done) return done.error();
  GenerationJobSummary summary;
  static_cast<RecordJobSummary&>(summary) = std::move(*done);
  summary.stats = step.stats();
  summary.kv_cache_bytes = step.kv_cache_bytes();
  return summary;
}

}  // namespace sparq::runtime
