// Running labelled documents through a model and collecting what it predicted: shared by
// `sparq eval` and `sparq sensitivity`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "formats/error.h"
#include "runtime/jobs/calibration_metrics.h"
#include "runtime/jobs/document_job.h"
#include "runtime/jobs/output_file.h"

namespace sparq::runtime {

// What one model produced on the data set: predicted labels (classifiers) or embeddings.
struct ModelRun {
  std::string path;
  bool classify = true;
  std::vector<std::string> labels;
  std::vector<std::string> gold, predicted;  // documents without errors, in input order
  LabelledLogits logits;                     // classifiers: the same documents' logits and gold indices
  double temperature = 1;                    // classifiers: the model's stored calibration
  std::vector<std::vector<float>> embeddings;
  std::vector<uint64_t> ok_index;            // input index of each kept document
  std::map<std::string, uint64_t> errors;
  uint64_t documents = 0;
  double docs_per_s = 0;
};

struct EvaluationRequest {
  DocumentJobOptions job;  // job.model is not read: the path is given separately
  std::string label_field = "label";
  std::optional<bool> expect_classifier;  // refuse a model of the other kind
  bool embedder_allowed = true;           // false: an embedder is a usage error
  std::string embedder_hint;              // what to tell the user then
  OutputFile* predictions = nullptr;      // one JSON line per document, when given
  JobObserver observer;                   // progress and notes of each model's run
};

// Loads `path` once and runs the request's documents through it.
Result<ModelRun> run_labelled_documents(const EvaluationRequest& request, const std::string& path);

// Gold labels of a classifier's run that are not among its labels, with their counts: a
// data set labelled another way ("Games" for "games", numbers for names) scores 0 on them.
std::map<std::string, uint64_t> unknown_gold_labels(const ModelRun& run);

}  // namespace sparq::runtime
