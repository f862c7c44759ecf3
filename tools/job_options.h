// The CLI side of a batch job: its command-line options, and what it shows on stderr (a
// progress bar, notes, the summary) from the job's observer callbacks.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "runtime/jobs/document_job.h"
#include "tools/progress_bar.h"

namespace sparq::tools {

// The options every document job has (`classify`, `embed`, `eval`, `sensitivity`).
void add_document_job_options(CLI::App* app, runtime::DocumentJobOptions* o, bool* quiet);
// --chunk-size, --restart, --max-errors, --shard; sets resumable and shard_from_environment.
void add_batch_job_options(CLI::App* app, runtime::DocumentJobOptions* o);

// Shows a job on stderr: a progress bar while it runs, its notes, and a summary when it is
// done. Quiet: nothing at all. Must outlive the job.
class JobReporter {
 public:
  explicit JobReporter(bool quiet) : quiet_(quiet) {}
  runtime::JobObserver observer();

 private:
  bool quiet_;
  std::unique_ptr<ProgressBar> bar_;
};

}  // namespace sparq::tools
