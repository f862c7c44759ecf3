// The CLI side of a batch job: its command-line options, and what it shows on stderr (a
// progress bar, notes, the summary) from the job's observer callbacks.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/jobs/document_job.h"
#include "tools/progress_bar.h"

namespace sparq::tools {

// The options every document job has (`classify`, `embed`, `eval`, `sensitivity`).
void add_document_job_options(CLI::App* app, runtime::DocumentJobOptions* o, bool* quiet);
// --chunk-size, --restart, --max-errors, --shard; sets resumable and shard_from_environment.
void add_batch_job_options(CLI::App* app, runtime::DocumentJobOptions* o);

// --json puts a job's summary on stdout, so it cannot go with records written there too.
Status check_json_output(bool json, const std::string& output);

// The summary of a finished job as `--json` prints it.
nlohmann::ordered_json summary_json(const runtime::JobSummary& s);
// The batch job behind `classify` and `embed`, reported as their options ask.
Status run_reported_job(const runtime::DocumentJobOptions& o, runtime::EncoderTask task,
                        const runtime::SinkFactory& make_sink, bool quiet, bool json);

// Shows a job on stderr: a progress bar while it runs, its notes, and (unless `summary` is
// false: --json prints it) a summary when it is done. Quiet: nothing at all. Must outlive
// the job.
class JobReporter {
 public:
  explicit JobReporter(bool quiet, bool summary = true) : quiet_(quiet), summary_(summary) {}
  runtime::JobObserver observer();

 private:
  bool quiet_, summary_;
  std::unique_ptr<ProgressBar> bar_;
};

}  // namespace sparq::tools
