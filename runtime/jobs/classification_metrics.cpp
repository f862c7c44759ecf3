#include "runtime/jobs/classification_metrics.h"

#include <unordered_map>

namespace sparq::runtime {

ClassificationMetrics classification_metrics(const std::vector<std::string>& labels,
                                             const std::vector<std::string>& gold,
                                             const std::vector<std::string>& predicted) {
  ClassificationMetrics m;
  m.labels = labels;
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < labels.size(); ++i) index.emplace(labels[i], i);
  auto id_of = [&](const std::string& label) {
    auto [it, added] = index.emplace(label, m.labels.size());
    if (added) m.labels.push_back(label);
    return it->second;
  };
  std::vector<std::pair<size_t, size_t>> pairs;
  const size_t n = std::min(gold.size(), predicted.size());
  for (size_t i = 0; i < n; ++i) pairs.emplace_back(id_of(gold[i]), id_of(predicted[i]));

  const size_t k = m.labels.size();
  m.confusion.assign(k, std::vector<uint64_t>(k, 0));
  std::vector<ClassMetrics> all(k);
  for (auto [g, p] : pairs) {
    ++m.confusion[g][p];
    ++all[g].support;
    ++all[p].predicted;
    if (g == p) {
      ++all[g].correct;
      ++m.correct;
    }
  }
  m.examples = pairs.size();
  m.accuracy = m.examples ? double(m.correct) / double(m.examples) : 0;
  double f1_sum = 0;
  for (size_t c = 0; c < k; ++c) {
    ClassMetrics& cm = all[c];
    cm.label = m.labels[c];
    if (cm.support == 0 && cm.predicted == 0) continue;
    cm.precision = cm.predicted ? double(cm.correct) / double(cm.predicted) : 0;
    cm.recall = cm.support ? double(cm.correct) / double(cm.support) : 0;
    cm.f1 = cm.precision + cm.recall > 0 ? 2 * cm.precision * cm.recall / (cm.precision + cm.recall) : 0;
    f1_sum += cm.f1;
    m.classes.push_back(cm);
  }
  m.macro_f1 = m.classes.empty() ? 0 : f1_sum / double(m.classes.size());
  return m;
}

nlohmann::json to_json(const ClassificationMetrics& m) {
  nlohmann::json per_class = nlohmann::json::object();
  for (const ClassMetrics& c : m.classes) {
    per_class[c.label] = {{"precision", c.precision}, {"recall", c.recall}, {"f1", c.f1},
                          {"support", c.support},     {"predicted", c.predicted}};
  }
  return {{"examples", m.examples}, {"correct", m.correct}, {"accuracy", m.accuracy}, {"macro_f1", m.macro_f1},
          {"per_class", per_class}, {"confusion", {{"labels", m.labels}, {"matrix", m.confusion}}}};
}

}  // namespace sparq::runtime
