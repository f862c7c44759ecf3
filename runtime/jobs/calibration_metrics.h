// How far a classifier's scores can be trusted, from its logits on labelled documents:
//
// - confidence of a document: its largest probability (softmax(logits / T), the score
//   `sparq classify` prints); its prediction: the first label with that probability;
// - reliability table: confidences in `bins` equal-width bins over [0, 1] (bin i holds
//   [i/bins, (i+1)/bins), the last one also 1.0); per bin, the documents, their mean
//   confidence and their accuracy;
// - expected calibration error (ECE): sum over bins of |accuracy - mean confidence| weighted
//   by the bin's share of documents (Guo et al. 2017, 15 bins by default);
// - Brier score (multi-class): mean over documents of sum over labels of (p_k - y_k)^2 with y
//   the one-hot gold label (all zeros for a gold label the model does not have); 0 is
//   perfect, 2 the worst;
// - negative log-likelihood: mean of -ln p(gold) over the documents whose gold label is one
//   of the model's (what the temperature fit minimises);
// - accuracy at coverage c: the ceil(c · N) most confident documents (ties in input order),
//   their accuracy, and the threshold: the confidence of the last of them, so that
//   `sparq classify --min-score THRESHOLD` keeps them (and any tied with it).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

namespace sparq::runtime {

// A classifier's logits on labelled documents.
struct LabelledLogits {
  std::vector<std::vector<float>> logits;  // per document, num_labels values
  std::vector<int64_t> gold;               // per document: index into the labels, -1 for another label
};

struct ReliabilityBin {
  double lower = 0, upper = 0;  // confidence range
  uint64_t count = 0;
  double mean_confidence = 0, accuracy = 0;  // 0 for an empty bin
};

struct CoveragePoint {
  double coverage = 0;   // the requested share of documents
  uint64_t documents = 0;
  double accuracy = 0;
  double threshold = 0;  // the lowest confidence among them
};

struct CalibrationMetrics {
  double temperature = 1;
  uint64_t examples = 0;
  double ece = 0, brier = 0, nll = 0;
  std::vector<ReliabilityBin> reliability;
  std::vector<CoveragePoint> coverage;
};

inline constexpr size_t kCalibrationBins = 15;
inline constexpr double kReportedCoverages[] = {0.5, 0.8, 0.9, 0.95};

// Needs at least one document. `coverages` each in (0, 1].
CalibrationMetrics calibration_metrics(const LabelledLogits& data, double temperature,
                                       size_t bins = kCalibrationBins,
                                       std::span<const double> coverages = kReportedCoverages);

// Mean -ln p(gold) at `temperature` over the documents with a known gold label (0 if none).
double mean_negative_log_likelihood(const LabelledLogits& data, double temperature);

nlohmann::ordered_json to_json(const CalibrationMetrics& m);

}  // namespace sparq::runtime
