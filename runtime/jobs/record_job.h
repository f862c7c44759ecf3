// The engine under every batch job (`sparq classify`, `embed`, `eval`, `generate`, and any
// other front end): input records streamed in chunks (bounded memory) through a RecordStep —
// the encoder pipeline, text generation — that writes one output record per input record, in
// input order.
//
// As a batch job (`resumable`) the loop is also resumable and shardable: a file output is
// checkpointed at every chunk boundary (job_checkpoint.h) and a job started again with the
// same options after a crash goes on from the last checkpoint, writing output byte-identical
// to an uninterrupted run; a shard I/N (or the scheduler's array index) keeps input records
// whose index % N == I, and a sharded job leaves a manifest (shard_manifest.h) for a merge.
// What makes this hold is the step's part of the bargain: a record's output depends on the
// record and the options in the job's fingerprint only, never on the chunk, the batch it
// shared or the thread count.
// The library never writes to a terminal: what a front end shows comes through the observer.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "formats/error.h"
#include "runtime/jobs/document_reader.h"
#include "runtime/jobs/output_file.h"
#include "runtime/jobs/shard.h"

namespace sparq::runtime {

struct RecordJobOptions {
  std::string model, input = "-", output = "-", format = "auto";
  std::string text_field = "text", id_field = "id";
  std::string label_field;     // labelled data (`sparq eval`)
  std::string messages_field;  // JSONL: a chat conversation instead of the text (`generate`)
  std::vector<std::string> extra_fields;  // JSONL fields the step reads (per-record settings)
  int threads = 0;
  size_t chunk = 2048;  // records processed together; a checkpoint each
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

// Where a job stands, reported as records get done (and once before the first, for a resumed
// job). Counts are the whole job's; `resumed_*` is what earlier runs had done.
struct JobProgress {
  uint64_t records = 0;            // records processed (written at the next checkpoint)
  uint64_t input_bytes_read = 0;   // of the input
  uint64_t input_bytes_total = 0;  // 0: unknown (stdin)
  uint64_t resumed_records = 0, resumed_bytes = 0;
};

// What became of one record, for the job's counts.
struct RecordOutcome {
  std::string error_code;         // empty: an output record; else its error record's code
  uint32_t truncated_tokens = 0;  // tokens cut from the record's text to fit the model
  bool abstained = false;         // written, but marked as not confident enough (classify --min-score)
};

// The work one kind of job does on each chunk of records.
class RecordStep {
 public:
  virtual ~RecordStep() = default;
  // The task and this step's settings that change the output bytes ({"task": "classify",
  // "max_length": 128}); they join the job's fingerprint. Settings that do not (threads,
  // batch sizes) stay out, so that a job may resume or shard with other values.
  virtual nlohmann::json fingerprint() const = 0;
  // The choices made, one line each, shown when the options ask for `verbose` notes.
  virtual std::vector<std::string> describe() const { return {}; }
  // Once the output is open, before the first chunk of this run; `records_written` > 0 when
  // the job resumes after that many records of an earlier run (already in `out`).
  virtual Status begin(OutputFile& out, uint64_t records_written) = 0;
  // Writes one output record per record, in order, and sets outcomes[i] for records[i].
  // `on_progress`, when given, is told how many of `records` are done as that grows. Fails
  // only on what ends the job (a model or write error), never on a bad record.
  virtual Status process(std::span<const Document> records, std::vector<RecordOutcome>& outcomes,
                         const std::function<void(size_t done)>& on_progress) = 0;
  virtual Status finish() = 0;  // after the last record, before the output is committed
};

struct RecordJobSummary {
  std::map<std::string, uint64_t> errors_by_code;  // the whole job's, resumed records included
  double seconds = 0;            // this run's
  uint64_t records = 0;          // output records, the whole job's
  uint64_t resumed_records = 0;  // of which written by earlier, interrupted runs
  uint64_t input_records = 0;    // records read from the input (all shards')
  uint64_t truncated_documents = 0, truncated_tokens = 0;  // the whole job's
  uint64_t abstained = 0;                                  // the whole job's
  Shard shard;
  std::string output;  // the output path, {shard} replaced
  bool already_complete = false;  // an earlier run had finished; nothing was done
};

// What a running job tells its front end. Any member may be left empty.
struct RecordJobObserver {
  std::function<void(const JobProgress&)> progress;
  // One line of information: a resumed or already complete job, the choices made (when
  // `verbose`), a warning.
  std::function<void(const std::string& line)> note;
};

// Sets the kernels' thread count (0: the default), refusing a negative one or more than
// kernels::max_threads().
Status apply_thread_count(int threads);

// Runs the job with `step` (whose model o.model names: it is fingerprinted for a batch job).
Result<RecordJobSummary> run_record_job(const RecordJobOptions& o, RecordStep& step,
                                        const RecordJobObserver& observer = {});

// The error record every step writes for a record that failed: {"id", "index", "error"}.
std::string error_record_json(const Document& doc, const RecordError& error);

}  // namespace sparq::runtime
