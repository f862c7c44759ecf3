#include "tools/document_job.h"

#include <fmt/core.h>
#include <sys/stat.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "kernels/isa.h"
#include "kernels/threading.h"
#include "tools/progress.h"

namespace sparq::tools {
namespace {

uint64_t file_size(const std::string& path) {
  struct stat st {};
  if (path == "-" || stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  return uint64_t(st.st_size);
}

void print_summary(const char* verb, const JobSummary& s) {
  const runtime::PipelineStats& p = s.stats;
  std::string errors;
  for (const auto& [code, n] : s.errors_by_code) errors += fmt::format("{}{} {}", errors.empty() ? "" : ", ", n, code);
  fmt::print(stderr, "{} {} documents in {:.2f} s: {} ok, {} errors{}{}\n", verb, p.documents, s.seconds,
             p.documents - p.errors, p.errors, errors.empty() ? "" : " (" + errors + ")",
             p.truncated_documents ? fmt::format(", {} truncated ({} tokens dropped)", p.truncated_documents,
                                                 p.truncated_tokens)
                                   : "");
  double secs = std::max(s.seconds, 1e-9);
  fmt::print(stderr, "throughput: {:.1f} documents/s, {:.0f} tokens/s ({} tokens, {:.0f}% padding)\n",
             double(p.documents) / secs, double(p.tokens) / secs, p.tokens,
             p.padded_tokens ? 100.0 * double(p.padded_tokens - p.tokens) / double(p.padded_tokens) : 0.0);
  fmt::print(stderr, "batch latency: p50 {:.1f} ms, p95 {:.1f} ms, p99 {:.1f} ms over {} batches\n",
             runtime::percentile(p.batch_ms, 50), runtime::percentile(p.batch_ms, 95),
             runtime::percentile(p.batch_ms, 99), p.batch_ms.size());
}

Status apply_threads(int threads) {
  if (threads < 0) return Error("--threads: expected a positive number", ExitCode::usage);
  if (threads > 0) kernels::set_num_threads(threads);
  return {};
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

std::string error_record_json(const runtime::Document& doc, const runtime::RecordError& error) {
  nlohmann::json j = {{"id", doc.id}, {"error", {{"code", error.code}, {"message", error.message}}}};
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
  Result<runtime::DocumentFormat> format = runtime::parse_document_format(o.format, o.input);
  if (!format) return format.error();
  Result<std::unique_ptr<runtime::EncoderPipeline>> pipeline =
      runtime::EncoderPipeline::create(model, task, o.batching);
  if (!pipeline) return pipeline.error();

  runtime::DocumentReaderOptions ro;
  ro.format = *format;
  ro.text_field = o.text_field;
  ro.id_field = o.id_field;
  ro.label_field = o.label_field;
  ro.max_text_bytes = o.max_text_bytes;
  Result<std::unique_ptr<runtime::DocumentReader>> reader = runtime::DocumentReader::open(o.input, ro);
  if (!reader) return reader.error();
  Result<std::unique_ptr<OutputFile>> out = OutputFile::create(o.output);
  if (!out) return out.error();
  Result<std::unique_ptr<ResultSink>> sink = make_sink(model, **out);
  if (!sink) return sink.error();

  if (o.verbose) {
    Result<kernels::Isa> isa = kernels::selected_isa();
    fmt::print(stderr, "isa: {}; threads: {}; max length {} tokens; batches of at most {} documents / {} tokens\n",
               isa ? kernels::isa_name(*isa) : "?", kernels::num_threads(), (*pipeline)->max_length(),
               o.batching.max_batch, o.batching.max_tokens_per_batch);
    for (const std::string& line : model.describe_kernels()) fmt::print(stderr, "  {}\n", line);
  }

  Progress progress("docs", file_size(o.input), !o.quiet);
  JobSummary summary;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<runtime::Document> chunk;
  std::vector<runtime::DocumentOutput> results;
  size_t chunk_bytes = 0;
  bool more = true;
  while (more) {
    chunk.clear();
    chunk_bytes = 0;
    // A chunk is bounded in documents and in bytes, so memory does not grow with the input.
    while (chunk.size() < o.chunk && chunk_bytes < (size_t{64} << 20)) {
      Result<std::optional<runtime::Document>> doc = (*reader)->next();
      if (!doc) return doc.error();
      if (!*doc) {
        more = false;
        break;
      }
      chunk_bytes += (*doc)->text.size();
      chunk.push_back(std::move(**doc));
    }
    if (Status s = (*pipeline)->run(chunk, results); !s) return s.error();
    for (size_t i = 0; i < chunk.size(); ++i) {
      if (results[i].error) ++summary.errors_by_code[results[i].error->code];
      if (Status s = (*sink)->write(chunk[i], results[i]); !s) return s.error();
    }
    progress.update((*pipeline)->stats().documents, (*reader)->bytes_read());
  }
  progress.finish();
  if (Status s = (*sink)->finish(); !s) return s.error();
  if (Status s = (*out)->commit(); !s) return s.error();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  summary.stats = (*pipeline)->stats();
  if (!o.quiet) print_summary(task == runtime::EncoderTask::classify ? "classified" : "embedded", summary);
  return summary;
}

}  // namespace sparq::tools
