// The encoder's batch job, behind `sparq classify`, `embed` and `eval` (and any other front
// end): documents streamed through an EncoderPipeline by the record job engine
// (record_job.h: chunks, checkpoints, resume, shards), every result handed, in input order, to
// a sink that writes one record per document.
#pragma once

#include <functional>
#include <memory>

#include "formats/error.h"
#include "runtime/jobs/encoder_pipeline.h"
#include "runtime/jobs/output_file.h"
#include "runtime/jobs/record_job.h"

namespace sparq::runtime {

struct DocumentJobOptions : RecordJobOptions {
  BatchingOptions batching;
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
  // `outcome` comes filled in (error code, truncated tokens); a sink that abstains on the
  // record sets outcome.abstained, which the job counts.
  virtual Status write(const Document& doc, const DocumentOutput& out, RecordOutcome& outcome) = 0;
  virtual Status finish() = 0;  // after the last record, before the output is committed
};

using SinkFactory =
    std::function<Result<std::unique_ptr<ResultSink>>(const EncoderModel& model, OutputFile&)>;

struct JobSummary : RecordJobSummary {
  EncoderTask task = EncoderTask::classify;
  PipelineStats stats;  // this run's documents
};

struct JobObserver : RecordJobObserver {
  std::function<void(const JobSummary&)> done;  // the job has finished and its output is complete
};

// Loads o.model, then runs the job on it.
Result<JobSummary> run_document_job(const DocumentJobOptions& o, EncoderTask task,
                                    const SinkFactory& make_sink, const JobObserver& observer = {});
// The same on a model already loaded (o.model is read only to fingerprint a batch job).
Result<JobSummary> run_document_job(const DocumentJobOptions& o, EncoderModel& model,
                                    EncoderTask task, const SinkFactory& make_sink,
                                    const JobObserver& observer = {});

}  // namespace sparq::runtime
