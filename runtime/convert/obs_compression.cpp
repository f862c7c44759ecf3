#include "runtime/convert/obs_compression.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace sparq::runtime {
namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// U with H⁻¹ = UᵀU, upper triangular: pruning or rounding column c by an error e moves the
// later columns j by -e·U(c,j)/U(c,c), the OBS update in the order the columns are done.
// Zeroes `w`'s columns that saw no input (their H row is all zero).
Result<Matrix> inverse_hessian_factor(std::span<const double> gram, uint64_t cols, double damp, Matrix& w) {
  Matrix h = Eigen::Map<const Matrix>(gram.data(), Eigen::Index(cols), Eigen::Index(cols));
  if (!h.allFinite()) return Error("the calibration's XᵀX holds non-finite values");
  for (Eigen::Index c = 0; c < h.rows(); ++c) {
    if (h(c, c) > 0) continue;
    h(c, c) = 1;
    w.col(c).setZero();
  }
  h.diagonal().array() += damp * h.diagonal().mean();
  Eigen::LLT<Matrix> factor(h);
  if (factor.info() != Eigen::Success) {
    return Error(fmt::format("XᵀX is not positive definite after damping by {} of its mean diagonal (too few "
                             "calibration tokens for {} input columns?)",
                             damp, cols));
  }
  const Matrix inverse = factor.solve(Matrix::Identity(h.rows(), h.cols()));
  Eigen::LLT<Matrix> inverse_factor(inverse);
  if (inverse_factor.info() != Eigen::Success) return Error("the inverse of XᵀX is not positive definite");
  return Matrix(inverse_factor.matrixU());
}

// The per-row grid of GPTQ's current group: scale = max |w| over the group's weights that
// are not known to be pruned, / qmax; `pin` is where that maximum sits, rounded to ±qmax
// whatever it has become, so the group's largest stored code is ±qmax and the encoder's
// max/qmax scale reproduces this one.
struct RowGrid {
  double scale = 0;
  uint64_t pin = UINT64_MAX;
};

class Compressor {
 public:
  Compressor(Matrix& w, const Matrix& u, const ObsOptions& o)
      : w_(w), u_(u), o_(o), rows_(uint64_t(w.rows())), cols_(uint64_t(w.cols())), keep_(rows_ * cols_, 1),
        grids_(rows_) {
    if (!o_.prune) {
      for (uint64_t i = 0; i < rows_ * cols_; ++i) keep_[i] = w_(Eigen::Index(i / cols_), Eigen::Index(i % cols_)) != 0;
    }
    group_ = o_.grid ? (o_.grid->group ? o_.grid->group : cols_) : 0;
    // Blocks hold whole groups, so an unstructured block mask is known when a group's
    // scale is taken.
    block_ = group_ ? group_ * ((std::max<uint64_t>(o_.block, 1) + group_ - 1) / group_) : std::max<uint64_t>(o_.block, 1);
  }

  void run() {
    for (uint64_t b0 = 0; b0 < cols_; b0 += block_) {
      const uint64_t b1 = std::min(cols_, b0 + block_), width = b1 - b0;
      if (o_.prune && o_.prune->kind == PrunePattern::Kind::unstructured) choose_block_mask(b0, b1);
      Matrix err(static_cast<Eigen::Index>(rows_), static_cast<Eigen::Index>(width));
      for (uint64_t c = b0; c < b1; ++c) {
        if (o_.prune && o_.prune->kind == PrunePattern::Kind::n_of_m && c % o_.prune->m == 0) choose_n_of_m(c);
        if (group_ && c % group_ == 0) take_group_scales(c);
        const double d = u_(Eigen::Index(c), Eigen::Index(c));
        for (uint64_t r = 0; r < rows_; ++r) {
          const auto R = Eigen::Index(r), C = Eigen::Index(c);
          const double v = w_(R, C), q = compressed(r, c, v);
          const double e = (v - q) / d;
          w_(R, C) = q;
          err(R, Eigen::Index(c - b0)) = e;
          if (e == 0) continue;
          for (uint64_t j = c + 1; j < b1; ++j) w_(R, Eigen::Index(j)) -= e * u_(C, Eigen::Index(j));
        }
      }
      if (b1 < cols_) {
        const auto B0 = Eigen::Index(b0), B1 = Eigen::Index(b1), rest = Eigen::Index(cols_ - b1);
        w_.rightCols(rest).noalias() -= err * u_.block(B0, B1, Eigen::Index(width), rest);
      }
    }
  }

 private:
  // SparseGPT's saliency of pruning weight (r, c) now: w² / [H⁻¹]_cc² (U(c,c)² = [H⁻¹]_cc
  // of the columns not yet done).
  double saliency(uint64_t r, uint64_t c) const {
    const double v = w_(Eigen::Index(r), Eigen::Index(c)), d = u_(Eigen::Index(c), Eigen::Index(c));
    return v * v / (d * d);
  }

  // The round(sparsity · rows · width) least salient weights of the block, over all rows;
  // ties: the earlier (row-major within the block) goes first.
  void choose_block_mask(uint64_t b0, uint64_t b1) {
    const uint64_t width = b1 - b0, n = rows_ * width;
    const auto prune = uint64_t(std::llround(o_.sparsity * double(n)));
    if (prune == 0) return;
    std::vector<double> s(n);
    for (uint64_t r = 0; r < rows_; ++r) {
      for (uint64_t c = b0; c < b1; ++c) s[r * width + c - b0] = saliency(r, c);
    }
    std::vector<uint64_t> order(n);
    std::iota(order.begin(), order.end(), uint64_t{0});
    auto before = [&](uint64_t a, uint64_t b) { return s[a] < s[b] || (s[a] == s[b] && a < b); };
    std::nth_element(order.begin(), order.begin() + std::ptrdiff_t(prune - 1), order.end(), before);
    for (uint64_t i = 0; i < prune; ++i) keep_[order[i] / width * cols_ + b0 + order[i] % width] = 0;
  }

  // In each row's group of M columns from `c`, keep the N most salient; ties: the earlier.
  void choose_n_of_m(uint64_t c) {
    const uint64_t m = o_.prune->m, n = o_.prune->n;
    std::vector<uint64_t> order(m);
    std::vector<double> s(m);
    for (uint64_t r = 0; r < rows_; ++r) {
      for (uint64_t j = 0; j < m; ++j) s[j] = saliency(r, c + j);
      std::iota(order.begin(), order.end(), uint64_t{0});
      std::stable_sort(order.begin(), order.end(), [&](uint64_t a, uint64_t b) { return s[a] > s[b]; });
      for (uint64_t j = 0; j < m; ++j) keep_[r * cols_ + c + j] = 1;
      for (uint64_t j = n; j < m; ++j) keep_[r * cols_ + c + order[j]] = 0;
    }
  }

  void take_group_scales(uint64_t c0) {
    const uint64_t c1 = std::min(cols_, c0 + group_);
    for (uint64_t r = 0; r < rows_; ++r) {
      RowGrid g;
      double max = 0;
      for (uint64_t c = c0; c < c1; ++c) {
        const double a = std::fabs(w_(Eigen::Index(r), Eigen::Index(c)));
        if (keep_[r * cols_ + c] && a > max) max = a, g.pin = c;
      }
      g.scale = max / double(o_.grid->qmax);
      grids_[r] = g;
    }
  }

  // What weight (r, c), now `v`, becomes.
  double compressed(uint64_t r, uint64_t c, double v) const {
    if (!keep_[r * cols_ + c]) return 0;
    if (!o_.grid) return v;
    const RowGrid& g = grids_[r];
    if (g.scale == 0) return 0;
    const double qmax = o_.grid->qmax;
    if (c == g.pin) return std::copysign(qmax, v) * g.scale;
    return std::clamp(std::round(v / g.scale), -qmax, qmax) * g.scale;
  }

  Matrix& w_;
  const Matrix& u_;
  const ObsOptions& o_;
  uint64_t rows_, cols_, group_ = 0, block_ = 0;
  std::vector<uint8_t> keep_;
  std::vector<RowGrid> grids_;
};

Status check(const PruneTensor& t, std::span<const double> gram, const ObsOptions& o) {
  if (t.values.size() != t.rows * t.cols || t.rows == 0 || t.cols == 0) {
    return Error(fmt::format("{} values for a {}x{} matrix", t.values.size(), t.rows, t.cols));
  }
  if (gram.size() != t.cols * t.cols) {
    return Error(fmt::format("XᵀX has {} entries; {} input columns need {}x{}", gram.size(), t.cols, t.cols, t.cols));
  }
  if (o.prune) {
    if (o.prune->kind == PrunePattern::Kind::block) {
      return Error(fmt::format("SparseGPT prunes unstructured or N:M, not {} blocks", o.prune->to_string()));
    }
    if (o.prune->kind == PrunePattern::Kind::n_of_m && t.cols % o.prune->m != 0) {
      return Error(fmt::format("{} input columns are not a multiple of {} ({})", t.cols, o.prune->m,
                               o.prune->to_string()));
    }
    if (!(o.sparsity >= 0 && o.sparsity <= 1)) return Error(fmt::format("sparsity {} is not in [0, 1]", o.sparsity));
  }
  if (o.grid && (o.grid->qmax < 1 || (o.grid->group && o.prune && o.prune->kind == PrunePattern::Kind::n_of_m &&
                                      o.grid->group % o.prune->m != 0))) {
    return Error(fmt::format("a grid of ±{} in groups of {} does not fit the pattern", o.grid->qmax, o.grid->group));
  }
  if (!(o.damp > 0)) return Error(fmt::format("damping {} must be positive", o.damp));
  return {};
}

}  // namespace

Status compress_with_hessian(const PruneTensor& t, std::span<const double> gram, const ObsOptions& options) {
  if (Status s = check(t, gram, options); !s) return s.error().within(fmt::format("tensor '{}'", t.name));
  using FloatMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<FloatMatrix> values(t.values.data(), Eigen::Index(t.rows), Eigen::Index(t.cols));
  Matrix w = values.cast<double>();
  auto u = inverse_hessian_factor(gram, t.cols, options.damp, w);
  if (!u) return u.error().within(fmt::format("tensor '{}'", t.name));
  Compressor(w, *u, options).run();
  values = w.cast<float>();
  return {};
}

}  // namespace sparq::runtime
