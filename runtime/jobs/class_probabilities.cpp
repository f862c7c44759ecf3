#include "runtime/jobs/class_probabilities.h"

#include <algorithm>
#include <cmath>

namespace sparq::runtime {

void class_probabilities(std::span<const float> logits, double temperature, std::span<double> probabilities) {
  const double zmax = *std::max_element(logits.begin(), logits.end());
  double total = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    total += probabilities[i] = std::exp((double(logits[i]) - zmax) / temperature);
  }
  for (double& p : probabilities) p /= total;
}

}  // namespace sparq::runtime
