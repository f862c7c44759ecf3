// What `sparq classify` and `sparq embed` share: the input/batching/threads options, the
// loop that streams documents through an EncoderPipeline in chunks (bounded memory) and
// hands every result, in input order, to a sink that writes one record per document, the
// progress display, and the summary on stderr.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "formats/error.h"
#include "runtime/encoder_pipeline.h"
#include "tools/output_file.h"

namespace sparq::tools {

struct DocumentJobOptions {
  std::string model, input = "-", output = "-", format = "auto";
  std::string text_field = "text", id_field = "id";
  std::string label_field;  // labelled data (`sparq eval`)
  int threads = 0;
  runtime::BatchingOptions batching;
  size_t chunk = 2048;  // documents tokenised, sorted and batched together
  size_t max_text_bytes = size_t{1} << 20;
  bool quiet = false, verbose = false;
};

void add_document_job_options(CLI::App* app, DocumentJobOptions* o);

// Writes one output record per document.
class ResultSink {
 public:
  virtual ~ResultSink() = default;
  virtual Status write(const runtime::Document& doc, const runtime::DocumentOutput& out) = 0;
  virtual Status finish() = 0;  // after the last record, before the output is committed
};

using SinkFactory =
    std::function<Result<std::unique_ptr<ResultSink>>(const runtime::EncoderModel&, OutputFile&)>;

struct JobSummary {
  runtime::PipelineStats stats;
  std::map<std::string, uint64_t> errors_by_code;
  double seconds = 0;
};

// Loads o.model, then runs the job on it.
Result<JobSummary> run_document_job(const DocumentJobOptions& o, runtime::EncoderTask task,
                                    const SinkFactory& make_sink);
// The same on a model already loaded (o.model is not read).
Result<JobSummary> run_document_job(const DocumentJobOptions& o, runtime::EncoderModel& model,
                                    runtime::EncoderTask task, const SinkFactory& make_sink);

// The error record every sink writes for a document that failed.
std::string error_record_json(const runtime::Document& doc, const runtime::RecordError& error);

}  // namespace sparq::tools
