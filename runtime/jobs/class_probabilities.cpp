#include "runtime/jobs/class_probabilities.h"

#include <algorithm>
#include <cmath>

namespace sparq::runtime {

void class_probabilities(std::span<const float> logits, std::span<double> probabilities) {
  const double zmax = *std::max_element(logits.begin(), logits.end());
  double total = 0;
  for (size_t i = 0; i < logits.size(); ++i) total += probabilities[i] = std::exp(double(logits[i]) - zmax);
  for (double& p : probabilities) p /= total;
}

}  // namespace sparq::runtime
