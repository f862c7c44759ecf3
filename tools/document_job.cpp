#include "tools/document_job.h"

#include <fmt/core.h>
#include <sys/stat.h>
#include <xxhash.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "kernels/isa.h"
#include "kernels/threading.h"
#include "tools/job_checkpoint.h"
#include "tools/progress.h"
#include "formats/sha256_file.h"
#include "tools/shard_manifest.h"

namespace sparq::tools {
namespace {

constexpr size_t kMaxChunkTextBytes = size_t{64} << 20;

uint64_t file_size(const std::string& path) {
  struct stat st {};
  if (path == "-" || stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  return uint64_t(st.st_size);
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

// XXH3-64 chained over the records (each record hashed with the hash so far as its seed):
// one number that a checkpoint can hold and that changes when any record read so far does.
class InputRecordHash {
 public:
  explicit InputRecordHash(uint64_t value = 0) : value_(value) {}
  void add(const runtime::Document& d) {
    buf_ = d.id.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    for (const std::string* field : {&d.text, &d.label}) {
      buf_ += '\0';
      buf_ += *field;
    }
    if (d.error) buf_ += '\0' + d.error->code + '\0' + d.error->message;
    value_ = XXH3_64bits_withSeed(buf_.data(), buf_.size(), value_);
  }
  uint64_t value() const { return value_; }

 private:
  uint64_t value_;
  std::string buf_;
};

Result<std::string> xxh3_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return Error(fmt::format("{}: cannot open model", path), ExitCode::data);
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(XXH3_createState(), &XXH3_freeState);
  XXH3_64bits_reset(state.get());
  std::vector<char> buf(size_t{1} << 20);
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0;) XXH3_64bits_update(state.get(), buf.data(), n);
  if (std::ferror(f.get())) return Error(fmt::format("{}: read failed", path), ExitCode::data);
  return fmt::format("{:016x}", XXH3_64bits_digest(state.get()));
}

// Everything that decides the output bytes. Threads and batching do not: results are
// bit-identical whatever the batch composition or thread count (checked by the CLI tests),
// so a job may resume with other --threads / --batch-size / --chunk-size.
Result<nlohmann::json> job_fingerprint(const DocumentJobOptions& o, runtime::EncoderTask task, size_t max_length,
                                       const Shard& shard) {
  Result<std::string> model_hash = xxh3_file(o.model);
  if (!model_hash) return model_hash.error();
  Result<runtime::DocumentFormat> format = runtime::parse_document_format(o.format, o.input);
  if (!format) return format.error();
  nlohmann::json input = {{"path", o.input}};
  // A compressed output has a frame per chunk: the chunk size shapes its bytes.
  nlohmann::json output_options = o.output_options;
  if (o.output.ends_with(".zst")) output_options["chunk_size"] = o.chunk;
  if (o.input != "-") input["bytes"] = file_size(o.input);
  return nlohmann::json{
      {"task", task == runtime::EncoderTask::classify ? "classify" : "embed"},
      {"model", {{"bytes", file_size(o.model)}, {"xxh3", *model_hash}}},
      {"input", input},
      {"format", *format == runtime::DocumentFormat::csv   ? "csv"
                 : *format == runtime::DocumentFormat::txt ? "txt"
                                                           : "jsonl"},
      {"fields", {{"text", o.text_field}, {"id", o.id_field}, {"label", o.label_field}}},
      {"max_text_bytes", o.max_text_bytes},
      {"max_length", max_length},
      {"output", output_options},
      {"shard", shard.text()},
  };
}

Status check_same_job(const std::string& checkpoint, const nlohmann::json& then, const nlohmann::json& now) {
  std::string differences = fingerprint_differences(then, now);
  if (differences.empty()) return {};
  return Error(fmt::format("{}: a partial job for this output was started with a different {}: {}; run it again "
                           "as it was to resume, or add --restart to discard it and start over",
                           checkpoint, differences.find(';') == std::string::npos ? "setting" : "settings",
                           differences),
               ExitCode::usage);
}

// A resumed job reads the records its checkpoint consumed again (without processing them)
// and checks they are the records it processed.
Status reread_consumed_records(runtime::DocumentReader& reader, const JobCheckpoint& state,
                               const std::string& checkpoint, InputRecordHash& hash) {
  for (uint64_t i = 0; i < state.records_consumed; ++i) {
    Result<std::optional<runtime::Document>> doc = reader.next();
    if (!doc) return doc.error();
    if (!*doc) {
      return Error(fmt::format("{}: {} has {} records, fewer than the {} its partial job consumed: the input "
                               "changed; add --restart to start over",
                               checkpoint, reader.path(), i, state.records_consumed),
                   ExitCode::data);
    }
    hash.add(**doc);
  }
  if (hash.value() == state.input_hash) return {};
  return Error(fmt::format("{}: the first {} records of {} differ from those its partial job processed: the input "
                           "changed; add --restart to start over",
                           checkpoint, state.records_consumed, reader.path()),
               ExitCode::data);
}

Result<Shard> resolve_shard(const DocumentJobOptions& o) {
  if (!o.shard.empty()) return parse_shard(o.shard);
  if (o.shard_from_environment) return shard_from_environment([](const char* name) { return std::getenv(name); });
  return Shard{};
}

Status apply_threads(int threads) {
  if (threads < 0) return Error("--threads: expected a positive number", ExitCode::usage);
  if (threads > 0) kernels::set_num_threads(threads);
  return {};
}

void print_summary(const char* verb, const JobSummary& s) {
  const runtime::PipelineStats& p = s.stats;
  if (s.shard.count > 1) {
    fmt::print(stderr, "shard {} (from {}): {} of {} input records\n", s.shard.text(), s.shard.source, s.records,
               s.input_records);
  }
  if (s.resumed_records) {
    fmt::print(stderr, "resumed: {} records were written by an earlier, interrupted run; {} by this one\n",
               s.resumed_records, s.records - s.resumed_records);
  }
  uint64_t errors = 0;
  std::string by_code;
  for (const auto& [code, n] : s.errors_by_code) {
    errors += n;
    by_code += fmt::format("{}{} {}", by_code.empty() ? "" : ", ", n, code);
  }
  fmt::print(stderr, "{} {} documents in {:.2f} s: {} ok, {} errors{}{}\n", verb, s.records, s.seconds,
             s.records - errors, errors, by_code.empty() ? "" : " (" + by_code + ")",
             s.truncated_documents
                 ? fmt::format(", {} truncated ({} tokens dropped)", s.truncated_documents, s.truncated_tokens)
                 : "");
  double secs = std::max(s.seconds, 1e-9);
  fmt::print(stderr, "throughput: {:.1f} documents/s, {:.0f} tokens/s ({} tokens, {:.0f}% padding)\n",
             double(p.documents) / secs, double(p.tokens) / secs, p.tokens,
             p.padded_tokens ? 100.0 * double(p.padded_tokens - p.tokens) / double(p.padded_tokens) : 0.0);
  fmt::print(stderr, "batch latency: p50 {:.1f} ms, p95 {:.1f} ms, p99 {:.1f} ms over {} batches\n",
             runtime::percentile(p.batch_ms, 50), runtime::percentile(p.batch_ms, 95),
             runtime::percentile(p.batch_ms, 99), p.batch_ms.size());
}

}  // namespace

void add_document_job_options(CLI::App* app, DocumentJobOptions* o) {
  app->add_option("model", o->model, "The .sparq model")->required();
  app->add_option("--input,-i", o->input, "Documents: a file, or - for stdin")->capture_default_str();
  app->add_option("--output,-o", o->output, "Where results go: a file (written whole at the end), or - for stdout")
      ->capture_default_str();
  app->add_option("--format", o->format, "Input format: jsonl, csv, txt or auto (from the extension)")
      ->capture_default_str();
  app->add_option("--text-field", o->text_field, "JSONL field / CSV column holding the text")->capture_default_str();
  app->add_option("--id-field", o->id_field, "JSONL field / CSV column holding the id (default id: the record index)")
      ->capture_default_str();
  app->add_option("--threads,-t", o->threads, "Threads (default: all CPUs, or OMP_NUM_THREADS)");
  app->add_option("--max-tokens-per-batch", o->batching.max_tokens_per_batch,
                  "Padded tokens per forward pass (documents x longest; 0: only --batch-size limits)")
      ->capture_default_str();
  app->add_option("--batch-size", o->batching.max_batch, "Documents per forward pass at most")->capture_default_str();
  app->add_option("--max-length", o->batching.max_length,
                  "Tokens per document, longer ones are truncated and counted (default: the model's limit)");
  app->add_option("--max-text-bytes", o->max_text_bytes, "Longer documents are errors (text_too_long)")
      ->capture_default_str();
  app->add_flag("--quiet,-q", o->quiet, "No progress and no summary on stderr");
  app->add_flag("--verbose,-v", o->verbose, "Print the choices made: ISA, threads, batching, kernels per layer");
}

void add_batch_job_options(CLI::App* app, DocumentJobOptions* o) {
  o->resumable = true;
  o->shard_from_environment = true;
  app->get_option("--output")
      ->description(
          "Where results go: a file, or - for stdout. A file is written as OUT.partial and renamed to OUT when "
          "complete; a job killed on the way resumes when the same command runs again (stdout cannot resume). "
          "\"{shard}\" in the path is replaced by the shard index. A name ending in .zst is written "
          "zstd-compressed, one frame per chunk");
  app->add_option("--chunk-size", o->chunk,
                  "Documents per chunk: tokenised, sorted and batched together, then made durable (a checkpoint, "
                  "OUT.partial.checkpoint, that a resumed job starts from)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_flag("--restart", o->restart, "Discard a partial job writing the same output and start over");
  app->add_option("--max-errors", o->max_errors,
                  "Stop (exit 2, the partial output kept and resumable) once more than N records are errors; "
                  "checked after every chunk (default: no limit)");
  app->add_option("--shard", o->shard,
                  "Process only input records whose 0-based index % N == I (every record is still read). Default: "
                  "(SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP of SLURM_ARRAY_TASK_COUNT "
                  "(a Slurm job array), or JOB_COMPLETION_INDEX "
                  "of SPARQ_SHARD_COUNT (Kubernetes indexed jobs), else the whole input. A sharded job writes "
                  "OUT.manifest.json beside OUT for `sparq merge`")
      ->type_name("I/N");
}

std::string error_record_json(const runtime::Document& doc, const runtime::RecordError& error) {
  nlohmann::ordered_json j = {
      {"id", doc.id}, {"index", doc.index}, {"error", {{"code", error.code}, {"message", error.message}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<JobSummary> run_document_job(const DocumentJobOptions& o, runtime::EncoderTask task,
                                    const SinkFactory& make_sink) {
  // Before loading: packing the weights already runs on the kernels' threads.
  if (Status s = apply_threads(o.threads); !s) return s.error();
  Result<std::unique_ptr<runtime::EncoderModel>> model = runtime::EncoderModel::load(o.model);
  if (!model) return model.error();
  return run_document_job(o, **model, task, make_sink);
}

Result<JobSummary> run_document_job(const DocumentJobOptions& o, runtime::EncoderModel& model,
                                    runtime::EncoderTask task, const SinkFactory& make_sink) {
  if (Status s = apply_threads(o.threads); !s) return s.error();
  if (o.chunk == 0) return Error("--chunk-size: expected a positive number", ExitCode::usage);
  Result<runtime::DocumentFormat> format = runtime::parse_document_format(o.format, o.input);
  if (!format) return format.error();
  Result<Shard> shard = resolve_shard(o);
  if (!shard) return shard.error();
  Result<std::unique_ptr<runtime::EncoderPipeline>> pipeline =
      runtime::EncoderPipeline::create(model, task, o.batching);
  if (!pipeline) return pipeline.error();

  JobSummary summary;
  summary.shard = *shard;
  summary.output = expand_shard_path(o.output, *shard);
  const std::string& output = summary.output;
  const bool sharded = shard->count > 1;
  const bool resumable = o.resumable && output != "-";
  if (sharded && output == "-") {
    return Error(fmt::format("shard {} (from {}): a sharded job needs an output file for its manifest, not stdout",
                             shard->text(), shard->source),
                 ExitCode::usage);
  }

  // The job's state so far: empty for a fresh job, the checkpoint's for a resumed one.
  JobCheckpoint state;
  std::optional<JobCheckpoint> resumed;
  const std::string checkpoint = checkpoint_path(output);
  if (resumable || sharded) {
    Result<nlohmann::json> fingerprint = job_fingerprint(o, task, (*pipeline)->max_length(), *shard);
    if (!fingerprint) return fingerprint.error();
    state.fingerprint = std::move(*fingerprint);
  }
  std::unique_ptr<OutputFile> out;
  if (resumable && o.restart) {
    // Opened (and so locked) first: a job still running keeps its checkpoint.
    Result<std::unique_ptr<OutputFile>> created = OutputFile::create(output);
    if (!created) return created.error();
    out = std::move(*created);
    std::remove(checkpoint.c_str());
  } else if (resumable) {
    Result<std::optional<JobCheckpoint>> found = load_checkpoint(checkpoint);
    if (!found) return found.error();
    resumed = std::move(*found);
  }
  if (resumed) {
    if (Status s = check_same_job(checkpoint, resumed->fingerprint, state.fingerprint); !s) return s.error();
    if (!file_exists(output + ".partial")) {
      // The output was renamed into place but the process died before removing the checkpoint.
      if (!file_exists(output)) {
        return Error(fmt::format("{}: checkpoint without {}.partial or {}; add --restart to start over", checkpoint,
                                 output, output),
                     ExitCode::data);
      }
      std::remove(checkpoint.c_str());
      if (!o.quiet) fmt::print(stderr, "{}: already complete (an earlier run finished it)\n", output);
      summary.already_complete = true;
      summary.records = summary.resumed_records = resumed->records_written;
      summary.input_records = resumed->records_consumed;
      summary.errors_by_code = resumed->errors_by_code;
      return summary;
    }
    state = *resumed;
  }

  runtime::DocumentReaderOptions ro;
  ro.format = *format;
  ro.text_field = o.text_field;
  ro.id_field = o.id_field;
  ro.label_field = o.label_field;
  ro.max_text_bytes = o.max_text_bytes;
  Result<std::unique_ptr<runtime::DocumentReader>> reader = runtime::DocumentReader::open(o.input, ro);
  if (!reader) return reader.error();
  if (!out) {
    Result<std::unique_ptr<OutputFile>> opened =
        resumed ? OutputFile::resume(output, resumed->output_bytes) : OutputFile::create(output);
    if (!opened) return opened.error();
    out = std::move(*opened);
  }
  if (resumable) out->keep_partial();
  Result<std::unique_ptr<ResultSink>> sink = make_sink(model, *out);
  if (!sink) return sink.error();
  if (Status s = (*sink)->begin(state.records_written); !s) return s.error();
  auto save = [&]() -> Status {
    if (!resumable) return {};
    if (Status s = out->sync(); !s) return s;
    state.output_bytes = out->bytes_written();
    return save_checkpoint(checkpoint, state);
  };
  Result<kernels::Isa> isa = kernels::selected_isa();
  const std::string isa_now = isa ? std::string(kernels::isa_name(*isa)) : "?";
  state.isa = isa_now;
  if (!resumed) {
    if (Status s = save(); !s) return s.error();
  }

  if (o.verbose) {
    fmt::print(stderr, "isa: {}; threads: {}; max length {} tokens; batches of at most {} documents / {} tokens\n",
               isa_now, kernels::num_threads(), (*pipeline)->max_length(),
               o.batching.max_batch, o.batching.max_tokens_per_batch);
    if (sharded) fmt::print(stderr, "shard {} (from {})\n", shard->text(), shard->source);
    if (resumable) fmt::print(stderr, "checkpoint: {} every {} documents\n", checkpoint, o.chunk);
    for (const std::string& line : model.describe_kernels()) fmt::print(stderr, "  {}\n", line);
  }

  Progress progress("docs", file_size(o.input), !o.quiet);
  if (resumed && !o.quiet) {
    fmt::print(stderr, "{}: resuming after input record {} ({} records already written)\n", output,
               state.records_consumed, state.records_written);
  }
  if (resumed && !resumed->isa.empty() && resumed->isa != isa_now) {
    // A warning, not a refusal: labels almost never change, and a requeue must be able to finish.
    fmt::print(stderr,
               "{}: warning: its first {} records were computed with {} kernels, the rest will be with {}: "
               "their f32 scores may differ in the last digits from a run on one kind of CPU\n",
               output, resumed->records_written, resumed->isa, isa_now);
  }
  InputRecordHash input_hash;
  if (Status s = reread_consumed_records(**reader, state, checkpoint, input_hash); !s) return s.error();
  progress.resume_from(state.records_written, (*reader)->bytes_read());
  summary.resumed_records = state.records_written;

  auto t0 = std::chrono::steady_clock::now();
  std::vector<runtime::Document> chunk;
  std::vector<runtime::DocumentOutput> results;
  bool more = true;
  while (more) {
    chunk.clear();
    size_t chunk_bytes = 0;
    // A chunk is bounded in documents and in bytes, so memory does not grow with the input.
    while (chunk.size() < o.chunk && chunk_bytes < kMaxChunkTextBytes) {
      Result<std::optional<runtime::Document>> doc = (*reader)->next();
      if (!doc) return doc.error();
      if (!*doc) {
        more = false;
        break;
      }
      input_hash.add(**doc);
      ++state.records_consumed;
      if (!shard->takes((*doc)->index)) continue;
      chunk_bytes += (*doc)->text.size();
      chunk.push_back(std::move(**doc));
    }
    if (Status s = (*pipeline)->run(chunk, results); !s) return s.error();
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (results[i].error) ++state.errors_by_code[results[i].error->code];
      if (results[i].truncated_tokens) {
        ++state.truncated_documents;
        state.truncated_tokens += results[i].truncated_tokens;
      }
      if (Status s = (*sink)->write(chunk[i], results[i]); !s) return s.error();
    }
    state.records_written += chunk.size();
    state.input_hash = input_hash.value();
    if (Status s = save(); !s) return s.error();
    progress.update(state.records_written, (*reader)->bytes_read());
    if (state.errors() > o.max_errors) {
      progress.finish();
      return Error(fmt::format("{} of {} records are errors, more than --max-errors {}; stopped after input record "
                               "{}{}",
                               state.errors(), state.records_written, o.max_errors, state.records_consumed,
                               resumable ? fmt::format(" ({}.partial is kept: run again with a higher "
                                                       "--max-errors to go on)",
                                                       output)
                                         : ""),
                   ExitCode::data);
    }
  }
  progress.finish();
  if (Status s = (*sink)->finish(); !s) return s.error();
  if (sharded) {
    // The manifest is on disk before the output takes its name, so an output never lacks one.
    if (Status s = out->sync(); !s) return s.error();
    Result<std::string> sha = formats::sha256_file(out->partial_path());
    if (!sha) return sha.error();
    ShardManifest m{.shard = shard->index,
                    .shards = shard->count,
                    .input_records = state.records_consumed,
                    .input_xxh3 = fmt::format("{:016x}", input_hash.value()),
                    .records = state.records_written,
                    .errors = state.errors(),
                    .output_sha256 = *sha,
                    .job = state.fingerprint};
    if (Status s = save_manifest(manifest_path(output), m); !s) return s.error();
  }
  if (Status s = out->commit(); !s) return s.error();
  if (resumable) std::remove(checkpoint.c_str());

  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  summary.stats = (*pipeline)->stats();
  summary.errors_by_code = state.errors_by_code;
  summary.records = state.records_written;
  summary.input_records = state.records_consumed;
  summary.truncated_documents = state.truncated_documents;
  summary.truncated_tokens = state.truncated_tokens;
  if (!o.quiet) print_summary(task == runtime::EncoderTask::classify ? "classified" : "embedded", summary);
  return summary;
}

}  // namespace sparq::tools
