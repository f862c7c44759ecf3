#include "runtime/jobs/calibration_statistics.h"

#include <algorithm>
#include <cmath>

namespace sparq::runtime {
namespace {

// Σ x² per input column and, when asked, Σ x xᵀ of each observed layer, in double: sums
// over many tokens. The Gram's upper triangle is summed and mirrored at the end.
class InputSums final : public LinearInputObserver {
 public:
  explicit InputSums(bool grams) : grams_(grams) {}

  void observe(std::string_view tensor, const float* x, size_t rows, size_t cols) override {
    const std::string name(tensor);
    std::vector<double>& sums = sums_[name];
    sums.resize(cols, 0.0);
    std::vector<double>* gram = nullptr;
    if (grams_) {
      gram = &grams_by_name_[name];
      gram->resize(cols * cols, 0.0);
    }
    std::vector<double> row(cols);
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) row[c] = double(x[r * cols + c]);
      for (size_t c = 0; c < cols; ++c) sums[c] += row[c] * row[c];
      if (gram == nullptr) continue;
      for (size_t i = 0; i < cols; ++i) {
        double* g = gram->data() + i * cols;
        const double xi = row[i];
        if (xi == 0.0) continue;
        for (size_t j = i; j < cols; ++j) g[j] += xi * row[j];
      }
    }
  }

  void finish(CalibrationStatistics& out) {
    for (const auto& [name, sums] : sums_) {
      std::vector<float>& n = out.input_norms[name];
      for (double s : sums) n.push_back(float(std::sqrt(s)));
    }
    for (auto& [name, gram] : grams_by_name_) {
      const size_t cols = sums_[name].size();
      for (size_t i = 0; i < cols; ++i) {
        for (size_t j = 0; j < i; ++j) gram[i * cols + j] = gram[j * cols + i];
      }
      out.input_grams[name] = std::move(gram);
    }
  }

 private:
  bool grams_;
  std::map<std::string, std::vector<double>> sums_, grams_by_name_;
};

}  // namespace

Result<CalibrationStatistics> linear_input_statistics(DecoderModel& model, std::span<const int32_t> ids,
                                                      const CalibrationOptions& options) {
  if (ids.empty()) return Error("calibration: no tokens", ErrorKind::invalid_input);
  CalibrationStatistics out;
  out.context = options.context == 0 ? model.config().max_positions : options.context;
  auto cache = model.make_cache(1, out.context);
  if (!cache) return cache.error();
  InputSums sums(options.grams);
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
  sums.finish(out);
  out.tokens = ids.size();
  return out;
}

}  // namespace sparq::runtime
