#include "runtime/jobs/document_job.h"

#include <fmt/core.h>

namespace sparq::runtime {
namespace {

// A chunk of documents through the pipeline, each result through the sink.
class EncoderStep final : public RecordStep {
 public:
  EncoderStep(EncoderModel& model, EncoderPipeline& pipeline, const SinkFactory& make_sink,
              const BatchingOptions& batching)
      : model_(model), pipeline_(pipeline), make_sink_(make_sink), batching_(batching) {}

  nlohmann::json fingerprint() const override {
    return {{"task", pipeline_.task() == EncoderTask::classify ? "classify" : "embed"},
            {"max_length", pipeline_.max_length()}};
  }
  std::vector<std::string> describe() const override {
    std::vector<std::string> lines = {fmt::format("max length {} tokens; batches of at most {} documents / {} tokens",
                                                  pipeline_.max_length(), batching_.max_batch,
                                                  batching_.max_tokens_per_batch)};
    for (const std::string& line : model_.describe_kernels()) lines.push_back("  " + line);
    return lines;
  }
  Status begin(OutputFile& out, uint64_t records_written) override {
    Result<std::unique_ptr<ResultSink>> sink = make_sink_(model_, out);
    if (!sink) return sink.error();
    sink_ = std::move(*sink);
    return sink_->begin(records_written);
  }
  Status process(std::span<const Document> docs, std::vector<RecordOutcome>& outcomes,
                 const std::function<void(size_t done)>& on_progress) override {
    if (Status s = pipeline_.run(docs, results_, on_progress); !s) return s;
    for (size_t i = 0; i < docs.size(); ++i) {
      outcomes[i] = {.error_code = results_[i].error ? results_[i].error->code : "",
                     .truncated_tokens = results_[i].truncated_tokens};
      if (Status s = sink_->write(docs[i], results_[i], outcomes[i]); !s) return s;
    }
    return {};
  }
  Status finish() override { return sink_->finish(); }

 private:
  EncoderModel& model_;
  EncoderPipeline& pipeline_;
  const SinkFactory& make_sink_;
  BatchingOptions batching_;
  std::unique_ptr<ResultSink> sink_;
  std::vector<DocumentOutput> results_;
};

}  // namespace

Result<JobSummary> run_document_job(const DocumentJobOptions& o, EncoderTask task, const SinkFactory& make_sink,
                                    const JobObserver& observer) {
  // Before loading: packing the weights already runs on the kernels' threads.
  if (Status s = apply_thread_count(o.threads); !s) return s.error();
  Result<std::unique_ptr<EncoderModel>> model = EncoderModel::load(o.model);
  if (!model) return model.error();
  return run_document_job(o, **model, task, make_sink, observer);
}

Result<JobSummary> run_document_job(const DocumentJobOptions& o, EncoderModel& model, EncoderTask task,
                                    const SinkFactory& make_sink, const JobObserver& observer) {
  if (Status s = apply_thread_count(o.threads); !s) return s.error();
  Result<std::unique_ptr<EncoderPipeline>> pipeline = EncoderPipeline::create(model, task, o.batching);
  if (!pipeline) return pipeline.error();
  EncoderStep step(model, **pipeline, make_sink, o.batching);
  Result<RecordJobSummary> done = run_record_job(o, step, observer);
  if (!done) return done.error();
  JobSummary summary;
  static_cast<RecordJobSummary&>(summary) = std::move(*done);
  summary.task = task;
  if (summary.already_complete) return summary;
  summary.stats = (*pipeline)->stats();
  if (observer.done) observer.done(summary);
  return summary;
}

}  // namespace sparq::runtime
