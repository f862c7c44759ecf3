#include "runtime/jobs/calibration_norms.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

namespace sparq::runtime {
namespace {

// Σ x² per input column of each observed layer, in double: a sum over many tokens.
class SquareSums final : public LinearInputObserver {
 public:
  void observe(std::string_view tensor, const float* x, size_t rows, size_t cols) override {
    std::vector<double>& sums = sums_[std::string(tensor)];
    sums.resize(cols, 0.0);
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) sums[c] += double(x[r * cols + c]) * double(x[r * cols + c]);
    }
  }
  std::map<std::string, std::vector<float>> norms() const {
    std::map<std::string, std::vector<float>> out;
    for (const auto& [name, sums] : sums_) {
      std::vector<float>& n = out[name];
      for (double s : sums) n.push_back(float(std::sqrt(s)));
    }
    return out;
  }

 private:
  std::map<std::string, std::vector<double>> sums_;
};

}  // namespace

Result<CalibrationNorms> linear_input_norms(DecoderModel& model, std::span<const int32_t> ids, size_t context) {
  if (ids.empty()) return Error("calibration: no tokens", ErrorKind::invalid_input);
  CalibrationNorms out;
  out.context = context == 0 ? model.config().max_positions : context;
  auto cache = model.make_cache(1, out.context);
  if (!cache) return cache.error();
  SquareSums sums;
  model.set_linear_input_observer(&sums);
  std::vector<float> logits;
  Status status;
  for (size_t begin = 0; begin < ids.size() && status; begin += out.context) {
    const size_t n = std::min(out.context, ids.size() - begin);
    // all_logits: the LM head then sees every token, as the other layers do.
    const DecodeStep step{.slot = 0, .tokens = ids.subspan(begin, n), .all_logits = true};
    logits.resize(n * model.config().vocab_size);
    cache->clear(0);
    status = model.forward(std::span(&step, 1), *cache, logits);
    ++out.windows;
  }
  model.set_linear_input_observer(nullptr);
  if (!status) return status.error().within("calibration");
  out.input_norms = sums.norms();
  out.tokens = ids.size();
  return out;
}

}  // namespace sparq::runtime
