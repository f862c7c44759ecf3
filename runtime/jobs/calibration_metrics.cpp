#include "runtime/jobs/calibration_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/jobs/class_probabilities.h"

namespace sparq::runtime {

CalibrationMetrics calibration_metrics(const LabelledLogits& data, double temperature, size_t bins,
                                       std::span<const double> coverages) {
  const size_t n = data.logits.size();
  CalibrationMetrics m;
  m.temperature = temperature;
  m.examples = n;
  std::vector<double> confidence(n), p;
  std::vector<bool> correct(n);
  double brier = 0;
  for (size_t i = 0; i < n; ++i) {
    p.resize(data.logits[i].size());
    class_probabilities(data.logits[i], temperature, p);
    const size_t best = size_t(std::max_element(p.begin(), p.end()) - p.begin());
    confidence[i] = p[best];
    correct[i] = int64_t(best) == data.gold[i];
    for (size_t k = 0; k < p.size(); ++k) {
      const double y = int64_t(k) == data.gold[i] ? 1 : 0;
      brier += (p[k] - y) * (p[k] - y);
    }
  }
  m.brier = brier / double(n);
  m.nll = mean_negative_log_likelihood(data, temperature);

  m.reliability.resize(bins);
  std::vector<double> confidence_sum(bins, 0);
  std::vector<uint64_t> correct_count(bins, 0);
  for (size_t i = 0; i < n; ++i) {
    const size_t b = std::min(bins - 1, size_t(confidence[i] * double(bins)));
    ++m.reliability[b].count;
    confidence_sum[b] += confidence[i];
    correct_count[b] += correct[i];
  }
  for (size_t b = 0; b < bins; ++b) {
    ReliabilityBin& r = m.reliability[b];
    r.lower = double(b) / double(bins);
    r.upper = double(b + 1) / double(bins);
    if (r.count == 0) continue;
    r.mean_confidence = confidence_sum[b] / double(r.count);
    r.accuracy = double(correct_count[b]) / double(r.count);
    m.ece += std::abs(r.accuracy - r.mean_confidence) * double(r.count) / double(n);
  }

  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return confidence[a] > confidence[b]; });
  for (double c : coverages) {
    CoveragePoint point;
    point.coverage = c;
    point.documents = std::clamp<uint64_t>(uint64_t(std::ceil(c * double(n) - 1e-9)), 1, n);
    uint64_t hits = 0;
    for (size_t r = 0; r < point.documents; ++r) hits += correct[order[r]];
    point.accuracy = double(hits) / double(point.documents);
    point.threshold = confidence[order[point.documents - 1]];
    m.coverage.push_back(point);
  }
  return m;
}

double mean_negative_log_likelihood(const LabelledLogits& data, double temperature) {
  double sum = 0;
  uint64_t counted = 0;
  for (size_t i = 0; i < data.logits.size(); ++i) {
    if (data.gold[i] < 0) continue;
    const std::vector<float>& z = data.logits[i];
    const double zmax = *std::max_element(z.begin(), z.end());
    double total = 0;
    for (float v : z) total += std::exp((double(v) - zmax) / temperature);
    // -ln softmax(z / T)[gold] = ln sum exp((z - zmax) / T) - (z_gold - zmax) / T
    sum += std::log(total) - (double(z[size_t(data.gold[i])]) - zmax) / temperature;
    ++counted;
  }
  return counted ? sum / double(counted) : 0;
}

nlohmann::ordered_json to_json(const CalibrationMetrics& m) {
  nlohmann::ordered_json bins = nlohmann::ordered_json::array();
  for (const ReliabilityBin& b : m.reliability) {
    bins.push_back({{"lower", b.lower}, {"upper", b.upper}, {"count", b.count},
                    {"mean_confidence", b.mean_confidence}, {"accuracy", b.accuracy}});
  }
  nlohmann::ordered_json coverage = nlohmann::ordered_json::array();
  for (const CoveragePoint& c : m.coverage) {
    coverage.push_back({{"coverage", c.coverage}, {"documents", c.documents}, {"accuracy", c.accuracy},
                        {"threshold", c.threshold}});
  }
  return {{"temperature", m.temperature},
          {"ece", m.ece},
          {"ece_bins", m.reliability.size()},
          {"brier", m.brier},
          {"nll", m.nll},
          {"reliability", bins},
          {"accuracy_at_coverage", coverage}};
}

}  // namespace sparq::runtime
