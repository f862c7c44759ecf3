// Calibration metrics on a six-document case worked by hand, and the temperature fit against
// a brute-force search over T with an NLL written out here independently.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "runtime/jobs/calibration_metrics.h"
#include "runtime/jobs/class_probabilities.h"
#include "runtime/jobs/temperature_fit.h"

namespace sparq::runtime {
namespace {

// Two labels; logits [ln a, ln b] give probabilities a / (a + b) and b / (a + b).
float ln(double x) { return float(std::log(x)); }

// doc  logits            probabilities   prediction  gold  right  confidence
// d0   [ln 9, 0]         0.90  0.10      0           0     yes    0.90
// d1   [ln 7/3, 0]       0.70  0.30      0           1     no     0.70
// d2   [0, ln 3]         0.25  0.75      1           1     yes    0.75
// d3   [0, 0]            0.50  0.50      0 (first)   1     no     0.50
// d4   [ln 19, 0]        0.95  0.05      0           0     yes    0.95
// d5   [0, ln 13/7]      0.35  0.65      1           -1    no     0.65 (gold not a model label)
LabelledLogits six_documents() {
  LabelledLogits d;
  d.logits = {{ln(9), 0}, {ln(7.0 / 3), 0}, {0, ln(3)}, {0, 0}, {ln(19), 0}, {0, ln(13.0 / 7)}};
  d.gold = {0, 1, 1, 1, 0, -1};
  return d;
}

TEST(CalibrationMetrics, HandWorkedSixDocuments) {
  const double coverages[] = {0.5, 0.8, 0.9, 0.95, 1.0 / 3};
  CalibrationMetrics m = calibration_metrics(six_documents(), 1.0, 5, coverages);
  EXPECT_EQ(m.examples, 6u);
  // 5 bins of width 0.2 (no confidence sits on an edge):
  //   [0.4, 0.6): d3            mean conf 0.5,                    accuracy 0
  //   [0.6, 0.8): d1 d2 d5      mean conf (0.7+0.75+0.65)/3 = 0.7, accuracy 1/3
  //   [0.8, 1.0]: d0 d4         mean conf (0.9+0.95)/2 = 0.925,   accuracy 1
  ASSERT_EQ(m.reliability.size(), 5u);
  EXPECT_EQ(m.reliability[0].count + m.reliability[1].count, 0u);
  EXPECT_EQ(m.reliability[2].count, 1u);
  EXPECT_EQ(m.reliability[3].count, 3u);
  EXPECT_EQ(m.reliability[4].count, 2u);
  EXPECT_NEAR(m.reliability[3].mean_confidence, 0.7, 1e-6);
  EXPECT_NEAR(m.reliability[3].accuracy, 1.0 / 3, 1e-12);
  EXPECT_NEAR(m.reliability[4].mean_confidence, 0.925, 1e-6);
  EXPECT_DOUBLE_EQ(m.reliability[4].lower, 0.8);
  EXPECT_DOUBLE_EQ(m.reliability[4].upper, 1.0);
  // ECE = (1·|0 - 0.5| + 3·|1/3 - 0.7| + 2·|1 - 0.925|) / 6 = (0.5 + 1.1 + 0.15) / 6
  EXPECT_NEAR(m.ece, 1.75 / 6, 1e-6);
  // Brier, per document sum over labels of (p - y)^2:
  //   d0 0.01+0.01 = 0.02; d1 0.49+0.49 = 0.98; d2 0.0625+0.0625 = 0.125; d3 0.25+0.25 = 0.5;
  //   d4 0.0025+0.0025 = 0.005; d5 (y all zero) 0.1225+0.4225 = 0.545; sum 2.175
  EXPECT_NEAR(m.brier, 2.175 / 6, 1e-6);
  // NLL over the five documents with a model label: -ln of p(gold) = 0.9, 0.3, 0.75, 0.5, 0.95
  EXPECT_NEAR(m.nll, -(std::log(0.9) + std::log(0.3) + std::log(0.75) + std::log(0.5) + std::log(0.95)) / 5, 1e-6);
  // Most confident first: d4 (right), d0 (right), d2 (right), d1 (wrong), d5 (wrong), d3 (wrong).
  ASSERT_EQ(m.coverage.size(), 5u);
  EXPECT_EQ(m.coverage[0].documents, 3u);  // ceil(0.5 · 6)
  EXPECT_DOUBLE_EQ(m.coverage[0].accuracy, 1.0);
  EXPECT_NEAR(m.coverage[0].threshold, 0.75, 1e-6);
  EXPECT_EQ(m.coverage[1].documents, 5u);  // ceil(4.8)
  EXPECT_DOUBLE_EQ(m.coverage[1].accuracy, 3.0 / 5);
  EXPECT_NEAR(m.coverage[1].threshold, 0.65, 1e-6);
  EXPECT_EQ(m.coverage[2].documents, 6u);  // ceil(5.4)
  EXPECT_DOUBLE_EQ(m.coverage[2].accuracy, 0.5);
  EXPECT_NEAR(m.coverage[2].threshold, 0.5, 1e-6);
  EXPECT_EQ(m.coverage[3].documents, 6u);  // ceil(5.7)
  EXPECT_EQ(m.coverage[4].documents, 2u);  // 1/3 · 6 is 2, not 3, whatever the rounding of 1/3
  EXPECT_NEAR(m.coverage[4].threshold, 0.9, 1e-6);
}

TEST(CalibrationMetrics, TemperatureDividesTheLogits) {
  // At T = 2, [ln 9, 0] becomes [ln 3, 0]: 0.75 / 0.25.
  const float z[] = {ln(9), 0};
  double p[2];
  class_probabilities(z, 2.0, p);
  EXPECT_NEAR(p[0], 0.75, 1e-7);
  EXPECT_NEAR(p[1], 0.25, 1e-7);
  // The default 15 bins; d0 at T = 2 has confidence 0.75, in bin [0.733, 0.8).
  CalibrationMetrics m = calibration_metrics(six_documents(), 2.0);
  EXPECT_EQ(m.reliability.size(), 15u);
  EXPECT_EQ(m.coverage.size(), 4u);
  EXPECT_DOUBLE_EQ(m.temperature, 2.0);
  EXPECT_GE(m.reliability[11].count, 1u);
}

// -ln softmax(z / T)[gold], written out directly (no max subtraction: the logits are small).
double reference_nll(const LabelledLogits& d, double t) {
  double sum = 0;
  int n = 0;
  for (size_t i = 0; i < d.logits.size(); ++i) {
    if (d.gold[i] < 0) continue;
    double denominator = 0;
    for (float v : d.logits[i]) denominator += std::exp(double(v) / t);
    sum += -std::log(std::exp(double(d.logits[i][size_t(d.gold[i])]) / t) / denominator);
    ++n;
  }
  return sum / n;
}

TEST(TemperatureFit, MatchesABruteForceSearch) {
  // Over-confident logits: the gold label gets the largest logit 70 % of the time, all
  // logits scaled by 4, so the fitted temperature is well above 1.
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 1);
  LabelledLogits d;
  for (int i = 0; i < 400; ++i) {
    std::vector<float> z(5);
    for (float& v : z) v = float(4 * noise(rng));
    const int64_t gold = int64_t(rng() % 5);
    const size_t top = size_t(std::max_element(z.begin(), z.end()) - z.begin());
    if (rng() % 10 < 7) std::swap(z[top], z[size_t(gold)]);
    d.logits.push_back(z);
    d.gold.push_back(i % 50 == 0 ? -1 : gold);  // a few gold labels the model does not have: ignored
  }
  // Grid over ln T in [ln 0.1, ln 50] in steps of 1e-4, then the best point's neighbourhood.
  double best_t = 0, best = 1e300;
  for (double lt = std::log(0.1); lt <= std::log(50.0); lt += 1e-4) {
    const double v = reference_nll(d, std::exp(lt));
    if (v < best) best = v, best_t = std::exp(lt);
  }
  TemperatureFit fit = fit_temperature(d);
  EXPECT_GT(fit.temperature, 1.5);
  EXPECT_NEAR(fit.temperature, best_t, best_t * 2e-4);
  EXPECT_NEAR(fit.nll, reference_nll(d, fit.temperature), 1e-9);
  EXPECT_LE(fit.nll, best + 1e-9);
  // Deterministic: the same fit twice.
  EXPECT_EQ(fit_temperature(d).temperature, fit.temperature);
  // Scaling the logits by 3 scales the fitted temperature by 3.
  LabelledLogits scaled = d;
  for (auto& z : scaled.logits) {
    for (float& v : z) v *= 3;
  }
  EXPECT_NEAR(fit_temperature(scaled).temperature, 3 * fit.temperature, 3 * fit.temperature * 1e-5);
}

TEST(TemperatureFit, NoKnownGoldLabelKeepsOne) {
  LabelledLogits d;
  d.logits = {{1, 2}};
  d.gold = {-1};
  EXPECT_EQ(fit_temperature(d).temperature, 1.0);
}

}  // namespace
}  // namespace sparq::runtime
