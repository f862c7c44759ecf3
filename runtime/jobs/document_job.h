// The batch engine behind `sparq classify`, `embed` and `eval` (and any other front end): a
// loop that streams documents through an EncoderPipeline in chunks (bounded memory) and
// hands every result, in input order, to a sink that writes one record per document.
//
// As a batch job (`resumable`) the loop is also resumable and shardable: a file output is
// checkpointed at every chunk boundary (job_checkpoint.h) and a job started again with the
// same options after a crash goes on from the last checkpoint, writing output byte-identical
// to an uninterrupted run; a shard I/N (or the scheduler's array index) keeps input records
// whose index % N == I, and a sharded job leaves a manifest (shard_manifest.h) for a merge.
// The library never writes to a terminal: what a front end shows comes through JobObserver.
#pragma once

#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "formats/error.h"
#include "runtime/jobs/encoder_pipeline.h"
#include "runtime/jobs/output_file.h"
#include "runtime/jobs/shard.h"

namespace sparq::runtime {

struct DocumentJobOptions {
  std::string model, input = "-", output = "-", format = "auto";
  std::string text_field = "text", id_field = "id";
  std::string label_field;  // labelled data (`sparq eval`)
  int threads = 0;
  runtime::BatchingOptions batching;
  size_t chunk = 2048;  // documents tokenised, sorted and batched together; a checkpoint each
  size_t max_text_bytes = size_t{1} << 20;
  bool verbose = false;  // notes describe the choices made: ISA, threads, batching, kernels

  // Batch jobs only; the defaults run a plain job to the end.
  bool resumable = false;  // a file output is checkpointed and resumed
  bool restart = false;    // discard a partial job instead of resuming it
  uint64_t max_errors = std::numeric_limits<uint64_t>::max();
  std::string shard;                  // "I/N"; empty: the environment's, when shard_from_environment
  std::string shard_option_name = "shard";  // how messages name `shard` (the CLI: its flag)
  bool shard_from_environment = false;
  // The sink's options that change the output bytes: part of the job's fingerprint.
  nlohmann::json output_options = nlohmann::json::object();
};

// Where a job stands, reported after every forward pass (and once before the first, for a resumed
// job). Counts are the whole job's; `resumed_*` is what earlier runs had done.
struct JobProgress {
  uint64_t records = 0;            // records processed (written at the next checkpoint)
  uint64_t input_bytes_read = 0;   // of the input
  uint64_t input_bytes_total = 0;  // 0: unknown (stdin)
  uint64_t resumed_records = 0, resumed_bytes = 0;
};


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
  runtime::EncoderTask task = runtime::EncoderTask::classify;
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

// What a running job tells its front end. Any member may be left empty.
struct JobObserver {
  std::function<void(const JobProgress&)> progress;
  // One line of information: a resumed or already complete job, the choices made (when
  // `DocumentJobOptions::verbose`), a warning.
  std::function<void(const std::string& line)> note;
  std::function<void(const JobSummary&)> done;  // the job has finished and its output is complete
};

// Sets the kernels' thread count (0: the default), refusing a negative one or more than
// kernels::max_threads().
Status apply_thread_count(int threads);

// Loads o.model, then runs the job on it.
Result<JobSummary> run_document_job(const DocumentJobOptions& o, runtime::EncoderTask task,
                                    const SinkFactory& make_sink, const JobObserver& observer = {});
// The same on a model already loaded (o.model is read only to fingerprint a batch job).
Result<JobSummary> run_document_job(const DocumentJobOptions& o, runtime::EncoderModel& model,
                                    runtime::EncoderTask task, const SinkFactory& make_sink,
                                    const JobObserver& observer = {});

// The error record every sink writes for a document that failed: {"id", "index", "error"}.
std::string error_record_json(const runtime::Document& doc, const runtime::RecordError& error);

}  // namespace sparq::runtime
