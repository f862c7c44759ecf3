// A calibration run for activation-aware compression: the decoder runs over calibration
// tokens in disjoint windows of its context, and the model's linear-input observer sees
// every linear layer's input X (tokens x input columns). Collected per layer:
//   the norm of each input column, ‖X_j‖₂ = sqrt(Σ_t x_tj²)   (Wanda's scores), and, on
//   request, the Gram matrix XᵀX                               (SparseGPT's and GPTQ's
//                                                               Hessian of the layer's
//                                                               squared output error).
// The Gram matrices take cols² doubles per layer (a 1.1 B Llama: about 8 GB), so they are
// collected only for the methods that use them.
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

struct CalibrationStatistics {
  std::map<std::string, std::vector<float>> input_norms;   // by weight name, one per input column
  std::map<std::string, std::vector<double>> input_grams;  // by weight name, XᵀX, cols x cols row-major
  uint64_t tokens = 0;
  size_t windows = 0, context = 0;
};

struct CalibrationOptions {
  size_t context = 0;  // window length in tokens; 0: the model's max_positions
  bool grams = false;  // also collect XᵀX per layer
};

// `ids` in windows of `options.context` tokens, the last one shorter.
Result<CalibrationStatistics> linear_input_statistics(DecoderModel& model, std::span<const int32_t> ids,
                                                      const CalibrationOptions& options = {});

}  // namespace sparq::runtime
