#include "runtime/jobs/calibration_statistics.h"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>

namespace sparq::runtime {
namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Σ x² per input column and, when asked, XᵀX of each observed layer, in double: sums over
// many tokens. XᵀX is a rank-k update of its lower triangle (Eigen's BLAS-3 kernel, as
// tokens x cols² multiply-adds per layer are the calibration's main cost), mirrored at the end.
class InputSums final : public LinearInputObserver {
 public:
  explicit InputSums(bool grams) : grams_(grams) {}

  void observe(std::string_view tensor, const float* x, size_t rows, size_t cols) override {
    const std::string name(tensor);
    std::vector<double>& sums = sums_[name];
    sums.resize(cols, 0.0);
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) sums[c] += double(x[r * cols + c]) * double(x[r * cols + c]);
    }
    if (!grams_) return;
    Matrix& gram = grams_by_name_[name];
    if (gram.size() == 0) gram = Matrix::Zero(Eigen::Index(cols), Eigen::Index(cols));
    using FloatRows = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Matrix xd = Eigen::Map<const FloatRows>(x, Eigen::Index(rows), Eigen::Index(cols)).cast<double>();
    gram.selfadjointView<Eigen::Lower>().rankUpdate(xd.transpose());
  }

  void finish(CalibrationStatistics& out) {
    for (const auto& [name, sums] : sums_) {
      std::vector<float>& n = out.input_norms[name];
      for (double s : sums) n.push_back(float(std::sqrt(s)));
    }
    for (auto& [name, gram] : grams_by_name_) {
      const Matrix full = gram.selfadjointView<Eigen::Lower>();
      out.input_grams[name].assign(full.data(), full.data() + full.size());
    }
  }

 private:
  bool grams_;
  std::map<std::string, std::vector<double>> sums_;
  std::map<std::string, Matrix> grams_by_name_;
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
