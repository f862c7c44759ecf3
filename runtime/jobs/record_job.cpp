#include "runtime/jobs/record_job.h"

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
#include "runtime/jobs/job_checkpoint.h"
#include "formats/sha256_file.h"
#include "runtime/jobs/shard_manifest.h"

namespace sparq::runtime {
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
  void add(const Document& d) {
    buf_ = d.id.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    for (const std::string* field : {&d.text, &d.label}) {
      buf_ += '\0';
      buf_ += *field;
    }
    if (d.error) buf_ += '\0' + d.error->code + '\0' + d.error->message;
    // Only when present, so that the hash of a plain text record stays what it always was.
    for (const nlohmann::json* value : {&d.messages, &d.fields}) {
      if (!value->is_null()) buf_ += '\0' + value->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    value_ = XXH3_64bits_withSeed(buf_.data(), buf_.size(), value_);
  }
  uint64_t value() const { return value_; }

 private:
  uint64_t value_;
  std::string buf_;
};

Result<std::string> xxh3_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return Error(fmt::format("{}: cannot open model", path), ErrorKind::invalid_input);
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(XXH3_createState(), &XXH3_freeState);
  XXH3_64bits_reset(state.get());
  std::vector<char> buf(size_t{1} << 20);
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0;) XXH3_64bits_update(state.get(), buf.data(), n);
  if (std::ferror(f.get())) return Error(fmt::format("{}: read failed", path), ErrorKind::invalid_input);
  return fmt::format("{:016x}", XXH3_64bits_digest(state.get()));
}

// Everything that decides the output bytes: these, and the step's settings beside them.
// Threads and batching do not: results are bit-identical whatever the batch composition or thread count
// (checked by the CLI tests), so a job may resume with other --threads / --batch-size /
// --chunk-size.
Result<nlohmann::json> job_fingerprint(const RecordJobOptions& o, const RecordStep& step, const Shard& shard) {
  Result<std::string> model_hash = xxh3_file(o.model);
  if (!model_hash) return model_hash.error();
  Result<DocumentFormat> format = parse_document_format(o.format, o.input);
  if (!format) return format.error();
  nlohmann::json input = {{"path", o.input}};
  // A compressed output has a frame per chunk: the chunk size shapes its bytes.
  nlohmann::json output_options = o.output_options;
  if (o.output.ends_with(".zst")) output_options["chunk_size"] = o.chunk;
  if (o.input != "-") input["bytes"] = file_size(o.input);
  nlohmann::json fields = {{"text", o.text_field}, {"id", o.id_field}, {"label", o.label_field}};
  if (!o.messages_field.empty()) fields["messages"] = o.messages_field;
  if (!o.extra_fields.empty()) fields["extra"] = o.extra_fields;
  nlohmann::json fingerprint = {
      {"model", {{"bytes", file_size(o.model)}, {"xxh3", *model_hash}}},
      {"input", input},
      {"format", *format == DocumentFormat::csv   ? "csv"
                 : *format == DocumentFormat::txt ? "txt"
                                                  : "jsonl"},
      {"fields", fields},
      {"max_text_bytes", o.max_text_bytes},
      {"output", output_options},
      {"shard", shard.text()},
  };
  fingerprint.update(step.fingerprint());
  return fingerprint;
}

Status check_same_job(const std::string& checkpoint, const nlohmann::json& then, const nlohmann::json& now) {
  std::string differences = fingerprint_differences(then, now);
  if (differences.empty()) return {};
  return Error(fmt::format("{}: a partial job for this output was started with a different {}: {}; run it again "
                           "as it was to resume, or restart the job to discard it and start over",
                           checkpoint, differences.find(';') == std::string::npos ? "setting" : "settings",
                           differences),
               ErrorKind::invalid_argument)
      .about("restart");
}

// A resumed job reads the records its checkpoint consumed again (without processing them)
// and checks they are the records it processed.
Status reread_consumed_records(DocumentReader& reader, const JobCheckpoint& state,
                               const std::string& checkpoint, InputRecordHash& hash) {
  for (uint64_t i = 0; i < state.records_consumed; ++i) {
    Result<std::optional<Document>> doc = reader.next();
    if (!doc) return doc.error();
    if (!*doc) {
      return Error(fmt::format("{}: {} has {} records, fewer than the {} its partial job consumed: the input "
                               "changed; restart the job to start over",
                               checkpoint, reader.path(), i, state.records_consumed),
                   ErrorKind::invalid_input)
          .about("restart");
    }
    hash.add(**doc);
  }
  if (hash.value() == state.input_hash) return {};
  return Error(fmt::format("{}: the first {} records of {} differ from those its partial job processed: the input "
                           "changed; restart the job to start over",
                           checkpoint, state.records_consumed, reader.path()),
               ErrorKind::invalid_input)
      .about("restart");
}

Result<Shard> resolve_shard(const RecordJobOptions& o) {
  if (!o.shard.empty()) return parse_shard(o.shard, o.shard_option_name);
  if (o.shard_from_environment) return shard_from_environment([](const char* name) { return std::getenv(name); });
  return Shard{};
}

}  // namespace

Status apply_thread_count(int threads) {
  if (threads < 0) {
    return Error(fmt::format("thread count {} is negative", threads), ErrorKind::invalid_argument).about("threads");
  }
  if (threads > kernels::max_threads()) {
    return Error(fmt::format("thread count {} is more than the {} this machine can use (4 per CPU)", threads,
                             kernels::max_threads()),
                 ErrorKind::invalid_argument)
        .about("threads");
  }
  if (threads > 0) kernels::set_num_threads(threads);
  return {};
}

std::string error_record_json(const Document& doc, const RecordError& error) {
  nlohmann::ordered_json j = {
      {"id", doc.id}, {"index", doc.index}, {"error", {{"code", error.code}, {"message", error.message}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<RecordJobSummary> run_record_job(const RecordJobOptions& o, RecordStep& step,
                                        const RecordJobObserver& observer) {
  auto note = [&](const std::string& line) {
    if (observer.note) observer.note(line);
  };
  if (Status s = apply_thread_count(o.threads); !s) return s.error();
  if (o.chunk == 0) return Error("the chunk size is 0", ErrorKind::invalid_argument).about("chunk_size");
  Result<DocumentFormat> format = parse_document_format(o.format, o.input);
  if (!format) return format.error();
  Result<Shard> shard = resolve_shard(o);
  if (!shard) return shard.error();

  RecordJobSummary summary;
  summary.shard = *shard;
  // Checked before any work, so a bad output path fails now and not after the whole job.
  Result<OutputTarget> target = resolve_output(expand_shard_path(o.output, *shard));
  if (!target) return target.error();
  summary.output = target->path;
  const std::string& output = summary.output;
  const bool sharded = shard->count > 1;
  const bool resumable = o.resumable && !target->stream;
  if (sharded && target->stream) {
    return Error(fmt::format("shard {} (from {}): a sharded job needs an output file for its manifest, not {}",
                             shard->text(), shard->source, target->kind),
                 ErrorKind::invalid_argument);
  }
  if (o.resumable && target->stream && output != "-") {
    note(fmt::format("{} is {}: written through as a stream; the job cannot resume if it stops", output,
                     target->kind));
  }

  // The job's state so far: empty for a fresh job, the checkpoint's for a resumed one.
  JobCheckpoint state;
  std::optional<JobCheckpoint> resumed;
  const std::string checkpoint = checkpoint_path(output);
  if (resumable || sharded) {
    Result<nlohmann::json> fingerprint = job_fingerprint(o, step, *shard);
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
        return Error(fmt::format("{}: checkpoint without {}.partial or {}; restart the job to start over",
                                 checkpoint, output, output),
                     ErrorKind::invalid_input)
            .about("restart");
      }
      std::remove(checkpoint.c_str());
      note(fmt::format("{}: already complete (an earlier run finished it)", output));
      summary.already_complete = true;
      summary.records = summary.resumed_records = resumed->records_written;
      summary.input_records = resumed->records_consumed;
      summary.errors_by_code = resumed->errors_by_code;
      summary.abstained = resumed->abstained;
      return summary;
    }
    state = *resumed;
  }

  DocumentReaderOptions ro;
  ro.format = *format;
  ro.text_field = o.text_field;
  ro.id_field = o.id_field;
  ro.label_field = o.label_field;
  ro.messages_field = o.messages_field;
  ro.extra_fields = o.extra_fields;
  ro.max_text_bytes = o.max_text_bytes;
  Result<std::unique_ptr<DocumentReader>> reader = DocumentReader::open(o.input, ro);
  if (!reader) return reader.error();
  if (!out) {
    Result<std::unique_ptr<OutputFile>> opened =
        resumed ? OutputFile::resume(output, resumed->output_bytes, resumed->output_hash) : OutputFile::create(output);
    if (!opened) return opened.error();
    out = std::move(*opened);
  }
  if (resumable) out->keep_partial();
  if (Status s = step.begin(*out, state.records_written); !s) return s.error();
  auto save = [&]() -> Status {
    if (!resumable) return {};
    if (Status s = out->sync(); !s) return s;
    state.output_bytes = out->bytes_written();
    state.output_hash = out->hash();
    return save_checkpoint(checkpoint, state);
  };
  Result<kernels::Isa> isa = kernels::selected_isa();
  const std::string isa_now = isa ? std::string(kernels::isa_name(*isa)) : "?";
  state.isa = isa_now;
  if (!resumed) {
    if (Status s = save(); !s) return s.error();
  }

  if (o.verbose) {
    note(fmt::format("isa: {}; threads: {}", isa_now, kernels::num_threads()));
    if (sharded) note(fmt::format("shard {} (from {})", shard->text(), shard->source));
    if (resumable) note(fmt::format("checkpoint: {} every {} records", checkpoint, o.chunk));
    for (const std::string& line : step.describe()) note(line);
  }

  JobProgress progress{.input_bytes_total = file_size(o.input)};
  auto report_progress = [&] {
    if (observer.progress) observer.progress(progress);
  };
  if (resumed) {
    note(fmt::format("{}: resuming after input record {} ({} records already written)", output,
                     state.records_consumed, state.records_written));
  }
  if (resumed && !resumed->isa.empty() && resumed->isa != isa_now) {
    // A warning, not a refusal: labels almost never change, and a requeue must be able to finish.
    note(fmt::format("{}: warning: its first {} records were computed with {} kernels, the rest will be with {}: "
                     "f32 sums round differently per kernel level, so scores may differ in the last digits (and a "
                     "generated text may take another turn) from a run on one kind of CPU",
                     output, resumed->records_written, resumed->isa, isa_now));
  }
  InputRecordHash input_hash;
  if (Status s = reread_consumed_records(**reader, state, checkpoint, input_hash); !s) return s.error();
  progress.records = progress.resumed_records = state.records_written;
  progress.input_bytes_read = progress.resumed_bytes = (*reader)->bytes_read();
  report_progress();
  summary.resumed_records = state.records_written;

  auto t0 = std::chrono::steady_clock::now();
  std::vector<Document> chunk;
  std::vector<RecordOutcome> outcomes;
  bool more = true;
  while (more) {
    chunk.clear();
    size_t chunk_bytes = 0;
    // A chunk is bounded in documents and in bytes, so memory does not grow with the input.
    while (chunk.size() < o.chunk && chunk_bytes < kMaxChunkTextBytes) {
      Result<std::optional<Document>> doc = (*reader)->next();
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
    // A chunk takes seconds: progress is reported as records get done, not only per chunk.
    auto on_progress = [&](size_t done) {
      progress.records = state.records_written + done;
      progress.input_bytes_read = (*reader)->bytes_read();
      report_progress();
    };
    outcomes.assign(chunk.size(), RecordOutcome{});
    if (Status s = step.process(chunk, outcomes, on_progress); !s) return s.error();
    for (const RecordOutcome& outcome : outcomes) {
      if (!outcome.error_code.empty()) ++state.errors_by_code[outcome.error_code];
      state.abstained += outcome.abstained;
      if (outcome.truncated_tokens) {
        ++state.truncated_documents;
        state.truncated_tokens += outcome.truncated_tokens;
      }
    }
    state.records_written += chunk.size();
    state.input_hash = input_hash.value();
    if (Status s = save(); !s) return s.error();
    progress.records = state.records_written;
    progress.input_bytes_read = (*reader)->bytes_read();
    report_progress();
    if (state.errors() > o.max_errors) {
      return Error(fmt::format("{} of {} records are errors, more than the limit of {}; stopped after input record "
                               "{}{}",
                               state.errors(), state.records_written, o.max_errors, state.records_consumed,
                               resumable ? fmt::format(" ({}.partial is kept: run again with a higher limit to go on)",
                                                       output)
                                         : ""),
                   ErrorKind::invalid_input)
          .about("max_errors");
    }
  }
  if (Status s = step.finish(); !s) return s.error();
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
                    .abstained = state.abstained,
                    .output_sha256 = *sha,
                    .job = state.fingerprint};
    if (Status s = save_manifest(manifest_path(output), m); !s) return s.error();
  }
  if (Status s = out->commit(); !s) return s.error();
  if (resumable) std::remove(checkpoint.c_str());

  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  summary.errors_by_code = state.errors_by_code;
  summary.records = state.records_written;
  summary.input_records = state.records_consumed;
  summary.truncated_documents = state.truncated_documents;
  summary.truncated_tokens = state.truncated_tokens;
  summary.abstained = state.abstained;
  return summary;
}

}  // namespace sparq::runtime
