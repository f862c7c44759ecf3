// A classifier's logits as probabilities: softmax in double after subtracting the largest
// logit, so they sum to 1 to the printed precision. One definition for every front end
// (`sparq classify`, the C API, the server), so they print the same numbers.
#pragma once

#include <span>

namespace sparq::runtime {

// probabilities[i] for logits[i]; both of the same size, at least 1.
void class_probabilities(std::span<const float> logits, std::span<double> probabilities);

}  // namespace sparq::runtime
