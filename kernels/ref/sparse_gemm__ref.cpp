#include "kernels/ref/sparse_gemm__ref.h"

#include <cmath>
#include <vector>

namespace sparq::kernels {

namespace {

void csr_f32_row(const SparseView& w, const float* x, const float* bias, float* y) {
  const auto* v = static_cast<const float*>(w.values);
  for (uint64_t n = 0; n < w.rows; ++n) {
    float acc = 0.0f;
    for (uint64_t i = w.row_begin(n); i < w.row_end(n); ++i) acc += v[i] * x[w.col_at(i)];
    y[n] = bias ? acc + bias[n] : acc;
  }
}

int32_t csr_q8_dot(const SparseView& w, uint64_t n, const int8_t* xq) {
  const auto* v = static_cast<const int8_t*>(w.values);
  int32_t acc = 0;
  for (uint64_t i = w.row_begin(n); i < w.row_end(n); ++i) {
    acc += int32_t(v[i]) * xq[w.col_at(i)];
  }
  return acc;
}

int32_t bsr_q8_dot(const SparseView& w, uint64_t n, const int8_t* xq) {
  const auto* v = static_cast<const int8_t*>(w.values);
  const uint64_t br = n / w.block_rows, area = uint64_t(w.block_rows) * w.block_cols;
  int32_t acc = 0;
  for (uint64_t b = w.row_begin(br); b < w.row_end(br); ++b) {
    const uint64_t c0 = w.col_at(b) * w.block_cols;
    const int8_t* row = v + b * area + (n % w.block_rows) * w.block_cols;
    for (uint64_t j = 0; j < w.block_cols && c0 + j < w.cols; ++j) {
      acc += int32_t(row[j]) * xq[c0 + j];
    }
  }
  return acc;
}

}  // namespace

void sparse_gemm__ref(const SparseView& w, const float* x, size_t m, const float* bias,
                      float* y) {
  if (w.value_type == SparseValueType::f32) {
    for (size_t i = 0; i < m; ++i) csr_f32_row(w, x + i * w.cols, bias, y + i * w.rows);
    return;
  }
  std::vector<int8_t> xq(w.cols);
  const bool csr = w.layout == SparseLayout::csr;
  for (size_t i = 0; i < m; ++i) {
    const float xs = quantize_row_q8__ref(x + i * w.cols, w.cols, xq.data());
    for (uint64_t n = 0; n < w.rows; ++n) {
      int32_t acc = csr ? csr_q8_dot(w, n, xq.data()) : bsr_q8_dot(w, n, xq.data());
      y[i * w.rows + n] = std::fma(float(acc), xs * w.scales[n], bias ? bias[n] : 0.0f);
    }
  }
}

}  // namespace sparq::kernels
