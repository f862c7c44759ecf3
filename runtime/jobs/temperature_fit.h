// Temperature scaling (Guo et al. 2017): the one T > 0 for which softmax(logits / T)
// has the lowest negative log-likelihood of the gold labels. It rescales every document's
// logits alike, so predictions (and accuracy) never change; only the confidence does.
#pragma once

#include "runtime/jobs/calibration_metrics.h"

namespace sparq::runtime {

struct TemperatureFit {
  double temperature = 1;
  double nll = 0;  // at `temperature`
};

// Golden-section search on ln T over [ln 0.01, ln 100] to a width of 1e-6 (deterministic).
// The NLL is convex in 1/T, hence unimodal in ln T, so the search finds the minimum; a
// minimum beyond the range (all documents right and T -> 0) ends at the bound. Documents
// whose gold label is not one of the model's are left out; with none left, T = 1.
TemperatureFit fit_temperature(const LabelledLogits& data);

}  // namespace sparq::runtime
