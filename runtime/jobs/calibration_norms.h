// A calibration run for activation-aware pruning (Wanda): the decoder runs over calibration
// tokens in disjoint windows of its context, and for every linear layer the norm of each
// input column over all tokens, ‖X_j‖₂ = sqrt(Σ_t x_tj²), is collected through the model's
// linear-input observer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "formats/error.h"
#include "runtime/model/decoder_model.h"

namespace sparq::runtime {

struct CalibrationNorms {
  std::map<std::string, std::vector<float>> input_norms;  // by weight name, one per input column
  uint64_t tokens = 0;
  size_t windows = 0, context = 0;
};

// `ids` in windows of `context` tokens (0: the model's max_positions), the last one shorter.
Result<CalibrationNorms> linear_input_norms(DecoderModel& model, std::span<const int32_t> ids, size_t context = 0);

}  // namespace sparq::runtime
