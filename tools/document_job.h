// What `sparq classify` and `sparq embed` share: the input/batching/threads options, the
// loop that streams documents through an EncoderPipeline in chunks (bounded memory) and
// hands every result, in input order, to a sink that writes one record per document, the
// progress display, and the summary on stderr.
//
// As a batch job (add_batch_job_options) the loop is also resumable and shardable: a file
// output is checkpointed at every chunk boundary (job_checkpoint.h) and a job started again
// with the same command after a crash goes on from the last checkpoint, writing output
// byte-identical to an uninterrupted run; `--shard I/N` (or the scheduler's array index)
// keeps input records whose index % N == I, and a sharded job leaves a manifest
// (shard_manifest.h) for `sparq merge`.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "formats/error.h"
#include "runtime/encoder_pipeline.h"
#include "tools/output_file.h"
#include "tools/shard.h"

namespace sparq::tools {

struct DocumentJobOptions {
  std::string model, input = "-", output = "-", format = "auto";
  std::string text_field = "text", id_field = "id";
  std::string label_field;  // labelled data (`sparq eval`)
  int threads = 0;
  runtime::BatchingOptions batching;
  size_t chunk = 2048;  // documents tokenised, sorted and batched together; a checkpoint each
  size_t max_text_bytes = size_t{1} << 20;
  bool quiet = false, verbose = false;

  // Batch jobs only (add_batch_job_options); the defaults run a plain job to the end.
  bool resumable = false;  // a file output is checkpointed and resumed
  bool restart = false;    // discard a partial job instead of resuming it
  uint64_t max_errors = std::numeric_limits<uint64_t>::max();
  std::string shard;                  // "I/N"; empty: the environment's, when shard_from_environment
  bool shard_from_environment = false;
  // The sink's options that change the output bytes: part of the job's fingerprint.
  nlohmann::json output_options = nlohmann::json::object();
};

void add_document_job_options(CLI::App* app, DocumentJobOptions* o);
// --chunk-size, --restart, --max-errors, --shard; sets resumable and shard_from_environment.
void add_batch_job_options(CLI::App* app, DocumentJobOptions* o);

// Writes one output record per document.
class ResultSink {
 public:
  virtual ~ResultSink() = default;
  // Before the first record of this run; `records_written` > 0 when the job resumes after
  // that many records of an earlier run (already in the output).
  virtual Status begin(uint64_t records_written) {
    (void)records_written;
    return {};
  }
  virtual Status write(const runtime::Document& doc, const runtime::DocumentOutput& out) = 0;
  virtual Status finish() = 0;  // after the last record, before the output is committed
};

using SinkFactory =
    std::function<Result<std::unique_ptr<ResultSink>>(const runtime::EncoderModel& model, OutputFile&)>;

struct JobSummary {
  runtime::PipelineStats stats;                   // this run's documents
  std::map<std::string, uint64_t> errors_by_code;  // the whole job's, resumed records included
  double seconds = 0;
  uint64_t records = 0;          // output records, the whole job's
  uint64_t resumed_records = 0;  // of which written by earlier, interrupted runs
  uint64_t input_records = 0;    // records read from the input (all shards')
  uint64_t truncated_documents = 0, truncated_tokens = 0;  // the whole job's
  Shard shard;
  std::string output;  // the output path, {shard} replaced
  bool already_complete = false;  // an earlier run had finished; nothing was done
};

// Loads o.model, then runs the job on it.
Result<JobSummary> run_document_job(const DocumentJobOptions& o, runtime::EncoderTask task,
                                    const SinkFactory& make_sink);
// The same on a model already loaded (o.model is read only to fingerprint a batch job).
Result<JobSummary> run_document_job(const DocumentJobOptions& o, runtime::EncoderModel& model,
                                    runtime::EncoderTask task, const SinkFactory& make_sink);

// The error record every sink writes for a document that failed: {"id", "index", "error"}.
std::string error_record_json(const runtime::Document& doc, const runtime::RecordError& error);

}  // namespace sparq::tools
