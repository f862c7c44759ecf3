// A classifier's logits as probabilities: softmax(logits / temperature) in double after
// subtracting the largest logit, so they sum to 1 to the printed precision. One definition
// for every front end (`sparq classify`, `eval`, the C API, the server), so they print the
// same numbers. The temperature is the model's stored calibration (classifier_calibration.h),
// 1 for a model without one.
#pragma once

#include <span>

namespace sparq::runtime {

// probabilities[i] for logits[i]; both of the same size, at least 1; temperature > 0.
void class_probabilities(std::span<const float> logits, double temperature, std::span<double> probabilities);

}  // namespace sparq::runtime
