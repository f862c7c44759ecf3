#include "tools/job_options.h"

#include <fmt/core.h>

#include <algorithm>
#include <cstdio>

namespace sparq::tools {
namespace {

const char* task_name(runtime::EncoderTask task) {
  return task == runtime::EncoderTask::classify ? "classify" : "embed";
}

void print_summary(const runtime::JobSummary& s) {
  const runtime::PipelineStats& p = s.stats;
  std::string more =
      s.truncated_documents
          ? fmt::format(", {} truncated ({} tokens dropped)", s.truncated_documents, s.truncated_tokens)
          : "";
  if (s.abstained) more += fmt::format(", {} abstained (score below --min-score)", s.abstained);
  print_record_summary(s, s.task == runtime::EncoderTask::classify ? "classified" : "embedded", "documents",
                       more);
  double secs = std::max(s.seconds, 1e-9);
  fmt::print(stderr, "throughput: {:.1f} documents/s, {:.0f} tokens/s ({} tokens, {:.0f}% padding)\n",
             double(p.documents) / secs, double(p.tokens) / secs, p.tokens,
             p.padded_tokens ? 100.0 * double(p.padded_tokens - p.tokens) / double(p.padded_tokens) : 0.0);
  fmt::print(stderr, "batch latency: p50 {:.1f} ms, p95 {:.1f} ms, p99 {:.1f} ms over {} batches\n",
             runtime::percentile(p.batch_ms, 50), runtime::percentile(p.batch_ms, 95),
             runtime::percentile(p.batch_ms, 99), p.batch_ms.size());
}

}  // namespace

Status check_json_output(bool json, const std::string& output) {
  if (!json || output != "-") return {};
  return Error("--json prints the summary on stdout, where the records go without --output: write them to a file "
               "with -o FILE",
               ErrorKind::invalid_argument);
}

nlohmann::ordered_json record_summary_json(const runtime::RecordJobSummary& s, const std::string& task) {
  uint64_t errors = 0;
  for (const auto& [code, n] : s.errors_by_code) errors += n;
  return {{"task", task},
          {"output", s.output},
          {"records", s.records},
          {"ok", s.records - errors},
          {"errors", errors},
          {"errors_by_code", s.errors_by_code},
          {"resumed_records", s.resumed_records},
          {"already_complete", s.already_complete},
          {"input_records", s.input_records},
          {"shard", {{"index", s.shard.index}, {"count", s.shard.count}}}};
}

void print_record_summary(const runtime::RecordJobSummary& s, const std::string& verb, const std::string& unit,
                          const std::string& more) {
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
  fmt::print(stderr, "{} {} {} in {:.2f} s: {} ok, {} errors{}{}\n", verb, s.records, unit, s.seconds,
             s.records - errors, errors, by_code.empty() ? "" : " (" + by_code + ")", more);
}

nlohmann::ordered_json summary_json(const runtime::JobSummary& s) {
  const runtime::PipelineStats& p = s.stats;
  double secs = std::max(s.seconds, 1e-9);
  nlohmann::ordered_json j = record_summary_json(s, task_name(s.task));
  j.update(nlohmann::ordered_json{
      {"truncated_documents", s.truncated_documents},
      {"truncated_tokens", s.truncated_tokens},
      {"seconds", s.seconds},
      {"documents", p.documents},
      {"tokens", p.tokens},
      {"padded_tokens", p.padded_tokens},
      {"documents_per_s", double(p.documents) / secs},
      {"tokens_per_s", double(p.tokens) / secs},
      {"batch_latency_ms",
       {{"p50", runtime::percentile(p.batch_ms, 50)},
        {"p95", runtime::percentile(p.batch_ms, 95)},
        {"p99", runtime::percentile(p.batch_ms, 99)},
        {"batches", p.batch_ms.size()}}}});
  if (s.task == runtime::EncoderTask::classify) j["abstained"] = s.abstained;
  return j;
}

Status run_reported_job(const runtime::DocumentJobOptions& o, runtime::EncoderTask task,
                        const runtime::SinkFactory& make_sink, bool quiet, bool json) {
  if (Status s = check_json_output(json, o.output); !s) return s;
  JobReporter reporter(quiet, !json);
  Result<runtime::JobSummary> s = runtime::run_document_job(o, task, make_sink, reporter.observer());
  if (!s) return s.error();
  // Printed from the result rather than the observer: a job found already complete has a
  // summary too.
  if (json) fmt::print("{}\n", summary_json(*s).dump(2));
  return {};
}

void add_record_job_options(CLI::App* app, runtime::RecordJobOptions* o) {
  app->add_option("--input,-i", o->input, "Documents: a file, or - for stdin")->capture_default_str();
  app->add_option("--output,-o", o->output, "Where results go: a file (written whole at the end), or - for stdout")
      ->capture_default_str();
  app->add_option("--format", o->format, "Input format: jsonl, csv, txt or auto (from the extension)")
      ->capture_default_str();
  app->add_option("--text-field", o->text_field, "JSONL field / CSV column holding the text")->capture_default_str();
  app->add_option("--id-field", o->id_field, "JSONL field / CSV column holding the id (default id: the record index)")
      ->capture_default_str();
  app->add_option("--max-text-bytes", o->max_text_bytes, "Longer documents are errors (text_too_long)")
      ->capture_default_str();
}

void add_document_job_options(CLI::App* app, runtime::DocumentJobOptions* o, bool* quiet) {
  app->add_option("model", o->model, "The .sparq model")->required();
  add_record_job_options(app, o);
  app->add_option("--threads,-t", o->threads, "Threads (default: all CPUs, or OMP_NUM_THREADS)");
  app->add_option("--max-tokens-per-batch", o->batching.max_tokens_per_batch,
                  "Padded tokens per forward pass (documents x longest; 0: only --batch-size limits)")
      ->capture_default_str();
  app->add_option("--batch-size", o->batching.max_batch, "Documents per forward pass at most")->capture_default_str();
  app->add_option("--max-length", o->batching.max_length,
                  "Tokens per document, longer ones are truncated and counted (default: the model's limit)");
  app->add_flag("--quiet,-q", *quiet, "No progress and no summary on stderr");
  app->add_flag("--verbose,-v", o->verbose, "Print the choices made: ISA, threads, batching, kernels per layer");
}

void add_batch_job_options(CLI::App* app, runtime::RecordJobOptions* o) {
  o->resumable = true;
  o->shard_option_name = "--shard";
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

runtime::RecordJobObserver JobReporter::record_observer() {
  runtime::RecordJobObserver o;
  if (quiet_) return o;
  o.note = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  o.progress = [this](const runtime::JobProgress& p) {
    if (!bar_) {
      bar_ = std::make_unique<ProgressBar>(unit_, p.input_bytes_total, true);
      if (p.resumed_records || p.resumed_bytes) bar_->resume_from(p.resumed_records, p.resumed_bytes);
    }
    bar_->update(p.records, p.input_bytes_read);
  };
  return o;
}

void JobReporter::finish() {
  if (bar_) bar_->finish();
}

runtime::JobObserver JobReporter::observer() {
  runtime::JobObserver o;
  static_cast<runtime::RecordJobObserver&>(o) = record_observer();
  if (quiet_) return o;
  o.done = [this](const runtime::JobSummary& s) {
    finish();
    if (summary_) print_summary(s);
  };
  return o;
}

}  // namespace sparq::tools
