#include "kernels/ref/dense_gemm__ref.h"

#include <vector>

#include "formats/float16.h"
#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels {
namespace {

// The signed integer a quantized weight stands for within its group: q8 q, symmetric q4
// q − 8, asymmetric q4 q (its minimum is added separately).
int32_t dense_weight_code(const DenseWeightsView& w, size_t row, size_t col) {
  if (w.type == DenseType::q8) return static_cast<int8_t>(w.values[row * w.k + col]);
  const uint8_t byte = w.values[row * ((w.k + 1) / 2) + col / 2];
  const int32_t q = col % 2 == 0 ? byte & 0x0F : byte >> 4;
  return w.asymmetric ? q : q - 8;
}

// A float weight as f32: f16 and bf16 widened exactly.
float float_weight(const DenseWeightsView& w, size_t index) {
  switch (w.type) {
    case DenseType::f16: return f16_to_f32(w.halves[index]);
    case DenseType::bf16: return bf16_to_f32(w.halves[index]);
    default: return w.f32[index];
  }
}

void float_matmul(const DenseWeightsView& w, const float* x, size_t m, const float* bias,
                  float* y) {
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < w.n; ++j) {
      float acc = 0.0f;
      for (size_t c = 0; c < w.k; ++c) acc += x[i * w.k + c] * float_weight(w, j * w.k + c);
      y[i * w.n + j] = acc + (bias ? bias[j] : 0.0f);
    }
  }
}

void quantized_matmul(const DenseWeightsView& w, const float* x, size_t m, const float* bias,
                      float* y) {
  const size_t groups = w.groups();
  std::vector<int8_t> q(groups * w.group);
  std::vector<int32_t> sums(groups);
  for (size_t i = 0; i < m; ++i) {
    float sx = 0.0f;
    q8_quantize_row__ref(x + i * w.k, w.k, w.group, w.group, q.data(), sums.data(), &sx);
    for (size_t j = 0; j < w.n; ++j) {
      float acc = 0.0f;
      for (size_t g = 0; g < groups; ++g) {
        int64_t d = 0;
        for (size_t c = g * w.group; c < std::min(w.k, (g + 1) * w.group); ++c) {
          d += int64_t(dense_weight_code(w, j, c)) * q[c];
        }
        acc += w.scales[j * groups + g] * float(d);
        if (w.asymmetric) acc += w.mins[j * groups + g] * float(sums[g]);
      }
      y[i * w.n + j] = acc * sx + (bias ? bias[j] : 0.0f);
    }
  }
}

}  // namespace

void dense_gemm__ref(const DenseWeightsView& w, const float* x, size_t m, const float* bias,
                     float* y) {
  if (dense_type_is_float(w.type)) {
    float_matmul(w, x, m, bias, y);
  } else {
    quantized_matmul(w, x, m, bias, y);
  }
}

}  // namespace sparq::kernels
