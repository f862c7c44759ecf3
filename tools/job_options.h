// The CLI side of a batch job: its command-line options, and what it shows on stderr (a
// progress bar, notes, the summary) from the job's observer callbacks.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/jobs/document_job.h"
#include "runtime/jobs/record_job.h"
#include "tools/progress_bar.h"

namespace sparq::tools {

// Where a job's records come from and go: --input, --output, --format, --text-field, --id-field,
// --max-text-bytes.
void add_record_job_options(CLI::App* app, runtime::RecordJobOptions* o);
// The options every document job has (`classify`, `embed`, `eval`, `sensitivity`): the model,
// the record options, threads, the encoder's batching, -q and -v.
void add_document_job_options(CLI::App* app, runtime::DocumentJobOptions* o, bool* quiet);
// --chunk-size, --restart, --max-errors, --shard; sets resumable and shard_from_environment.
void add_batch_job_options(CLI::App* app, runtime::RecordJobOptions* o);

// --json puts a job's summary on stdout, so it cannot go with records written there too.
Status check_json_output(bool json, const std::string& output);

// What every job's `--json` summary starts with: the task, output, record and error counts,
// resumed records and the shard.
nlohmann::ordered_json record_summary_json(const runtime::RecordJobSummary& s, const std::string& task);
// What every job's summary on stderr starts with: the shard, the resumed records, and
// "{verb} {records} {unit} in {seconds} s: {ok} ok, {errors} errors ({by code}){more}".
void print_record_summary(const runtime::RecordJobSummary& s, const std::string& verb, const std::string& unit,
                          const std::string& more = "");
// The summary of a finished document job as `--json` prints it.
nlohmann::ordered_json summary_json(const runtime::JobSummary& s);
// The batch job behind `classify` and `embed`, reported as their options ask.
Status run_reported_job(const runtime::DocumentJobOptions& o, runtime::EncoderTask task,
                        const runtime::SinkFactory& make_sink, bool quiet, bool json);

// Shows a job on stderr: a progress bar of `unit` while it runs, its notes, and for a
// document job (unless `summary` is false: --json prints it) a summary when it is done.
// Quiet: nothing at all. Must outlive the job.
class JobReporter {
 public:
  explicit JobReporter(bool quiet, bool summary = true, std::string unit = "docs")
      : quiet_(quiet), summary_(summary), unit_(std::move(unit)) {}
  // Progress and notes: what any record job shows; finish() ends the bar.
  runtime::RecordJobObserver record_observer();
  void finish();
  // The same, finished with a document job's summary.
  runtime::JobObserver observer();

 private:
  bool quiet_, summary_;
  std::string unit_;
  std::unique_ptr<ProgressBar> bar_;
};

}  // namespace sparq::tools
