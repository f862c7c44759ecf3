// The scalar float tile for f32, f16 and bf16 panels: each weight widened exactly to f32,
// then f32 products summed in k order.
#include <algorithm>

#include "formats/float16.h"
#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels {
namespace {

template <class W, float (*widen)(W)>
void float_gemm_4x8(const FloatGemmTile<W>& t) {
  constexpr size_t MR = 4, NR = 8;
  float acc[MR][NR] = {};
  for (size_t c = 0; c < t.k; ++c) {
    const W* w = t.w + c * NR;
    for (size_t i = 0; i < t.mr; ++i) {
      const float xv = t.x[i * t.x_stride + c];
      for (size_t j = 0; j < NR; ++j) acc[i][j] += xv * widen(w[j]);
    }
  }
  for (size_t i = 0; i < t.mr; ++i) {
    for (size_t j = 0; j < t.nr; ++j) {
      t.y[i * t.y_stride + j] = acc[i][j] + (t.bias ? t.bias[j] : 0.0f);
    }
  }
}

float as_is(float v) { return v; }

}  // namespace

void f32_gemm_4x8__ref(const F32GemmTile& t) { float_gemm_4x8<float, as_is>(t); }
void f16_gemm_4x8__ref(const HalfGemmTile& t) { float_gemm_4x8<uint16_t, f16_to_f32>(t); }
void bf16_gemm_4x8__ref(const HalfGemmTile& t) { float_gemm_4x8<uint16_t, bf16_to_f32>(t); }

}  // namespace sparq::kernels
