#include "runtime/convert/magnitude_pruning.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

namespace sparq::runtime {
namespace {

bool parse_uint(std::string_view s, uint32_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

// Unit extent: 1x1 (unstructured) or the block shape.
struct Unit {
  uint64_t rows, cols;
};

Unit unit_of(const PrunePattern& p) {
  return p.kind == PrunePattern::Kind::block ? Unit{p.rows, p.cols} : Unit{1, 1};
}

// Score of entry (r, c): |w|, times the column's input norm when the tensor has them.
double entry_score(const PruneTensor& t, uint64_t r, uint64_t c) {
  const double w = std::fabs(double(t.values[r * t.cols + c]));
  return t.input_norms.empty() ? w : w * double(t.input_norms[c]);
}

// Score of unit `u` of `t`: the RMS of its entries' scores (the score of a single entry).
double unit_score(const PruneTensor& t, Unit unit, uint64_t u) {
  const uint64_t per_row = t.cols / unit.cols;
  const uint64_t r0 = (u / per_row) * unit.rows, c0 = (u % per_row) * unit.cols;
  if (unit.rows == 1 && unit.cols == 1) return entry_score(t, r0, c0);
  double sum = 0;
  for (uint64_t r = r0; r < r0 + unit.rows; ++r) {
    for (uint64_t c = c0; c < c0 + unit.cols; ++c) sum += entry_score(t, r, c) * entry_score(t, r, c);
  }
  return std::sqrt(sum / double(unit.rows * unit.cols));
}

void zero_unit(const PruneTensor& t, Unit unit, uint64_t u) {
  const uint64_t per_row = t.cols / unit.cols;
  const uint64_t r0 = (u / per_row) * unit.rows, c0 = (u % per_row) * unit.cols;
  for (uint64_t r = r0; r < r0 + unit.rows; ++r) {
    std::fill_n(t.values.begin() + static_cast<std::ptrdiff_t>(r * t.cols + c0), unit.cols, 0.0f);
  }
}

Status check_shape(const PruneTensor& t, const PrunePattern& p) {
  if (t.values.size() != t.rows * t.cols) {
    return Error(fmt::format("tensor '{}': {} values for a {}x{} matrix", t.name, t.values.size(), t.rows, t.cols));
  }
  if (!t.input_norms.empty() && t.input_norms.size() != t.cols) {
    return Error(fmt::format("tensor '{}': {} input norms for {} input columns", t.name, t.input_norms.size(), t.cols));
  }
  if (p.kind == PrunePattern::Kind::block && (t.rows % p.rows != 0 || t.cols % p.cols != 0)) {
    return Error(fmt::format("tensor '{}': shape [{}, {}] is not a multiple of the {} block", t.name, t.rows, t.cols,
                             p.to_string()));
  }
  if (p.kind == PrunePattern::Kind::n_of_m && t.cols % p.m != 0) {
    return Error(fmt::format("tensor '{}': {} inputs are not a multiple of {} ({} pattern)", t.name, t.cols, p.m,
                             p.to_string()));
  }
  return {};
}

// In every run of m inputs keep the n highest scores (the earlier entry on a tie).
void prune_n_of_m(const PruneTensor& t, uint32_t n, uint32_t m) {
  std::vector<uint32_t> order(m);
  std::vector<double> score(m);
  for (uint64_t start = 0; start < t.values.size(); start += m) {
    const uint64_t r = start / t.cols, c0 = start % t.cols;
    for (uint32_t i = 0; i < m; ++i) score[i] = entry_score(t, r, c0 + i);
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&score](uint32_t a, uint32_t b) {
      return score[a] != score[b] ? score[a] > score[b] : a < b;
    });
    for (uint32_t i = n; i < m; ++i) t.values[start + order[i]] = 0.0f;
  }
}

}  // namespace

std::string PrunePattern::to_string() const {
  switch (kind) {
    case Kind::unstructured:
      return "unstructured";
    case Kind::block:
      return fmt::format("{}x{}", rows, cols);
    case Kind::n_of_m:
      return fmt::format("{}:{}", n, m);
  }
  return "";
}

Result<PrunePattern> parse_prune_pattern(std::string_view text) {
  PrunePattern p;
  if (text == "unstructured") return p;
  auto bad = [&](const std::string& why) {
    std::string shapes;
    for (auto [r, c] : kSupportedBlocks) shapes += fmt::format("{}{}x{}", shapes.empty() ? "" : ", ", r, c);
    return Error(fmt::format("pattern '{}': {} (expected unstructured, a block shape the sparse kernels run: {}; or N:M "
                             "such as 2:4)",
                             text, why, shapes));
  };
  if (size_t colon = text.find(':'); colon != std::string_view::npos) {
    p.kind = PrunePattern::Kind::n_of_m;
    if (!parse_uint(text.substr(0, colon), &p.n) || !parse_uint(text.substr(colon + 1), &p.m)) return bad("not N:M");
    if (p.n == 0 || p.n >= p.m || p.m > 32) return bad("N:M needs 0 < N < M <= 32");
    return p;
  }
  if (size_t x = text.find('x'); x != std::string_view::npos) {
    p.kind = PrunePattern::Kind::block;
    if (!parse_uint(text.substr(0, x), &p.rows) || !parse_uint(text.substr(x + 1), &p.cols)) return bad("not RxC");
    for (auto [r, c] : kSupportedBlocks) {
      if (r == p.rows && c == p.cols) return p;
    }
    return bad("the sparse kernels do not run this block shape");
  }
  return bad("unknown pattern");
}

Result<PruneResult> prune_by_magnitude(std::span<const PruneTensor> tensors, const PrunePattern& pattern,
                                       double sparsity) {
  if (!(sparsity >= 0.0 && sparsity <= 1.0)) return Error(fmt::format("sparsity {} is not in [0, 1]", sparsity));
  for (const PruneTensor& t : tensors) {
    if (Status s = check_shape(t, pattern); !s) return s.error();
  }
  PruneResult result;
  const Unit unit = unit_of(pattern);
  if (pattern.kind == PrunePattern::Kind::n_of_m) {
    for (const PruneTensor& t : tensors) {
      prune_n_of_m(t, pattern.n, pattern.m);
      result.units += t.values.size();
      result.pruned_units += t.values.size() / pattern.m * (pattern.m - pattern.n);
    }
  } else {
    // The k-th smallest score is the threshold: every unit below it goes, then units equal
    // to it in (tensor, unit) order until k are gone.
    std::vector<std::vector<double>> scores(tensors.size());
    std::vector<double> all;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const PruneTensor& t = tensors[i];
      const uint64_t units = (t.rows / unit.rows) * (t.cols / unit.cols);
      scores[i].resize(units);
      for (uint64_t u = 0; u < units; ++u) scores[i][u] = unit_score(t, unit, u);
      result.units += units;
    }
    const uint64_t k = static_cast<uint64_t>(std::llround(sparsity * double(result.units)));
    result.pruned_units = k;
    if (k > 0) {
      all.reserve(result.units);
      for (const auto& s : scores) all.insert(all.end(), s.begin(), s.end());
      std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k - 1), all.end());
      const double threshold = all[k - 1];
      all = {};
      uint64_t below = 0;
      for (const auto& s : scores) below += static_cast<uint64_t>(std::count_if(s.begin(), s.end(), [&](double x) { return x < threshold; }));
      uint64_t ties_to_prune = k - below;
      for (size_t i = 0; i < tensors.size(); ++i) {
        for (uint64_t u = 0; u < scores[i].size(); ++u) {
          const double s = scores[i][u];
          if (s < threshold || (s == threshold && ties_to_prune > 0)) {
            if (s == threshold) --ties_to_prune;
            zero_unit(tensors[i], unit, u);
          }
        }
      }
    }
  }
  for (const PruneTensor& t : tensors) {
    result.elements += t.values.size();
    result.zeros += static_cast<uint64_t>(std::count(t.values.begin(), t.values.end(), 0.0f));
  }
  return result;
}

}  // namespace sparq::runtime
