#include "runtime/jobs/evaluation.h"

#include <fmt/core.h>

#include <algorithm>
#include <set>
#include <nlohmann/json.hpp>

namespace sparq::runtime {
namespace {

class CollectSink final : public ResultSink {
 public:
  CollectSink(ModelRun& run, std::vector<std::string> labels, OutputFile* predictions)
      : run_(run), labels_(std::move(labels)), predictions_(predictions) {}
  Status write(const runtime::Document& doc, const runtime::DocumentOutput& r, RecordOutcome&) override {
    ++run_.documents;
    if (r.error) {
      if (predictions_) return predictions_->write(error_record_json(doc, *r.error) + "\n");
      return {};
    }
    run_.ok_index.push_back(doc.index);
    if (labels_.empty()) {
      run_.embeddings.push_back(r.values);
      return {};
    }
    size_t best = size_t(std::max_element(r.values.begin(), r.values.end()) - r.values.begin());
    run_.gold.push_back(doc.label);
    run_.predicted.push_back(labels_[best]);
    run_.logits.logits.push_back(r.values);
    const auto gold = std::find(labels_.begin(), labels_.end(), doc.label);
    run_.logits.gold.push_back(gold == labels_.end() ? -1 : int64_t(gold - labels_.begin()));
    if (predictions_) {
      nlohmann::ordered_json j = {{"id", doc.id}, {"label", labels_[best]}, {"gold", doc.label}};
      return predictions_->write(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    }
    return {};
  }
  Status finish() override { return {}; }

 private:
  ModelRun& run_;
  std::vector<std::string> labels_;
  OutputFile* predictions_;
};

}  // namespace

Result<ModelRun> run_labelled_documents(const EvaluationRequest& request, const std::string& path) {
  Result<std::unique_ptr<runtime::EncoderModel>> model = runtime::EncoderModel::load(path);
  if (!model) return model.error();
  const bool classify = (*model)->config().num_labels > 0;
  if (request.expect_classifier && *request.expect_classifier != classify) {
    return Error(fmt::format("{} is {} but the model evaluated is {}", path, classify ? "a classifier" : "an embedder",
                             classify ? "an embedder" : "a classifier"),
                 ErrorKind::invalid_argument);
  }
  if (!classify && !request.embedder_allowed) return Error(request.embedder_hint, ErrorKind::invalid_argument);
  ModelRun run;
  run.path = path;
  run.classify = classify;
  run.labels = classify ? (*model)->labels() : std::vector<std::string>{};
  run.temperature = (*model)->temperature();
  DocumentJobOptions job = request.job;
  job.output = "-";  // the sink writes nothing there; predictions go to their own file
  if (classify) job.label_field = request.label_field;
  auto sink = [&](const runtime::EncoderModel&, OutputFile&) -> Result<std::unique_ptr<ResultSink>> {
    return std::unique_ptr<ResultSink>(new CollectSink(run, run.labels, request.predictions));
  };
  Result<JobSummary> s = run_document_job(
      job, **model, classify ? runtime::EncoderTask::classify : runtime::EncoderTask::embed, sink,
      request.observer);
  if (!s) return s.error();
  run.errors = s->errors_by_code;
  run.docs_per_s = s->seconds > 0 ? double(s->stats.documents) / s->seconds : 0;
  return run;
}

std::map<std::string, uint64_t> unknown_gold_labels(const ModelRun& run) {
  std::map<std::string, uint64_t> unknown;
  if (!run.classify) return unknown;
  const std::set<std::string> known(run.labels.begin(), run.labels.end());
  for (const std::string& g : run.gold) {
    if (!known.contains(g)) ++unknown[g];
  }
  return unknown;
}

}  // namespace sparq::runtime
