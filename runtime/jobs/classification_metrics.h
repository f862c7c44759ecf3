// Quality of a classifier against gold labels: accuracy, macro-F1, per-class precision /
// recall / F1, the confusion matrix; and agreement between two models' predictions.
// Macro-F1 averages over every class that occurs in the gold labels or the predictions
// (scikit-learn's default), a class with no predictions scoring precision 0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sparq::runtime {

struct ClassMetrics {
  std::string label;
  uint64_t support = 0;    // gold examples of this class
  uint64_t predicted = 0;  // examples predicted as this class
  uint64_t correct = 0;
  double precision = 0, recall = 0, f1 = 0;
};

struct ClassificationMetrics {
  uint64_t examples = 0, correct = 0;
  double accuracy = 0, macro_f1 = 0;
  std::vector<ClassMetrics> classes;              // the averaged classes, in label order
  std::vector<std::string> labels;                // row/column order of the matrix
  std::vector<std::vector<uint64_t>> confusion;   // [gold][predicted]
};

// `labels`: the model's label names (predictions index into them); gold labels outside
// this list are added at the end (a model can never predict them, and they count).
ClassificationMetrics classification_metrics(const std::vector<std::string>& labels,
                                             const std::vector<std::string>& gold,
                                             const std::vector<std::string>& predicted);

nlohmann::json to_json(const ClassificationMetrics& m);

}  // namespace sparq::runtime
