// sparq classify: one JSON line per document with the predicted label and probabilities;
// with --min-score, a record whose top probability is below it is marked "abstained" (a
// document for a person to look at) but keeps its label and scores.
#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "tools/command.h"
#include "runtime/jobs/class_probabilities.h"
#include "runtime/jobs/document_job.h"
#include "tools/job_options.h"

namespace sparq::tools {

using runtime::DocumentJobOptions;
using runtime::OutputFile;
using runtime::ResultSink;
using runtime::error_record_json;
namespace {

struct ClassifyArgs {
  DocumentJobOptions job;
  bool quiet = false, json = false;
  size_t top_k = 0;
  bool logits = false;
  std::optional<double> min_score;
};

class ClassifySink final : public ResultSink {
 public:
  ClassifySink(const runtime::EncoderModel& model, OutputFile& out, const ClassifyArgs& a)
      : labels_(model.labels()), temperature_(model.temperature()), out_(out),
        top_k_(a.top_k ? std::min(a.top_k, labels_.size()) : labels_.size()), logits_(a.logits),
        min_score_(a.min_score) {}

  Status write(const runtime::Document& doc, const runtime::DocumentOutput& r,
               runtime::RecordOutcome& outcome) override {
    if (r.error) return out_.write(error_record_json(doc, *r.error) + "\n");
    const std::vector<float>& z = r.values;
    probs_.resize(z.size());
    runtime::class_probabilities(z, temperature_, probs_);
    order_.resize(z.size());
    std::iota(order_.begin(), order_.end(), 0);
    std::stable_sort(order_.begin(), order_.end(), [&](size_t a, size_t b) { return probs_[a] > probs_[b]; });

    nlohmann::ordered_json j;
    j["id"] = doc.id;
    j["index"] = doc.index;
    j["label"] = labels_[order_[0]];
    j["score"] = probs_[order_[0]];
    if (min_score_ && probs_[order_[0]] < *min_score_) {
      j["abstained"] = true;
      outcome.abstained = true;
    }
    nlohmann::ordered_json scores = nlohmann::ordered_json::object();
    for (size_t i = 0; i < top_k_; ++i) scores[labels_[order_[i]]] = probs_[order_[i]];
    j["scores"] = std::move(scores);
    if (logits_) j["logits"] = z;
    if (r.truncated_tokens) j["truncated_tokens"] = r.truncated_tokens;
    return out_.write(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  }
  Status finish() override { return {}; }

 private:
  std::vector<std::string> labels_;
  double temperature_;
  OutputFile& out_;
  size_t top_k_;
  bool logits_;
  std::optional<double> min_score_;
  std::vector<double> probs_;
  std::vector<size_t> order_;
};

}  // namespace

Command add_classify_command(CLI::App& parent) {
  auto args = std::make_shared<ClassifyArgs>();
  CLI::App* app = parent.add_subcommand(
      "classify",
      "Classify documents with a .sparq classifier: one JSON line per input record, in input order: "
      "{\"id\", \"index\", \"label\", \"score\", \"scores\": {label: probability}} (probabilities: softmax of the "
      "logits divided by the model's stored temperature, see `sparq eval --calibrate`), or {\"id\", \"index\", "
      "\"error\": {\"code\", \"message\"}} for a record that cannot be processed (\"index\": the record's 0-based "
      "position in the input). A summary (documents/s, tokens/s, batch latency) goes to stderr, or with --json to "
      "stdout. A job writing a file "
      "is resumable and can be sharded; see --output, --shard and `sparq merge`.");
  add_document_job_options(app, &args->job, &args->quiet);
  add_batch_job_options(app, &args->job);
  app->add_option("--top-k", args->top_k, "Only the K most probable labels in \"scores\" (default: all)");
  app->add_flag("--logits", args->logits, "Add the raw logits to each record");
  app->add_option("--min-score", args->min_score,
                  "Mark records whose top probability (\"score\") is below this with \"abstained\": true, keeping "
                  "label and scores, and count them in the summary; `sparq eval` reports the threshold for a given "
                  "coverage")
      ->check(CLI::Range(0.0, 1.0));
  add_json_flag(app, &args->json, "the summary (records, errors, throughput, output path; needs -o FILE)");
  return {app, [args]() -> Status {
            args->job.output_options = {{"top_k", args->top_k}, {"logits", args->logits}};
            // Only when given, so that a job checkpointed before the option existed still resumes.
            if (args->min_score) args->job.output_options["min_score"] = *args->min_score;
            auto sink = [&](const runtime::EncoderModel& model,
                            OutputFile& out) -> Result<std::unique_ptr<ResultSink>> {
              return std::unique_ptr<ResultSink>(new ClassifySink(model, out, *args));
            };
            Status s = run_reported_job(args->job, runtime::EncoderTask::classify, sink, args->quiet, args->json);
            // The one wrong task a classify job can meet: an embedder.
            if (!s && s.error().option() == "task") {
              return Error(s.error().message() + "; use `sparq embed`", s.error().kind());
            }
            return s;
          }};
}

}  // namespace sparq::tools
