// Scalar kernels over the dword packing (kc = 4 for q8, nibble pairs with kc = 8 for q4):
// the `ref` level's packed path, and a readable statement of that layout.
#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels {
namespace {

template <size_t MR, size_t NR, size_t KC, bool kNibbles, class Value>
void q_gemm_ref(const QGemmTile& t) {
  constexpr size_t chunk_bytes = kNibbles ? NR * KC / 2 : NR * KC;
  float acc[MR][NR] = {};
  const uint8_t* w = t.w;
  for (size_t g = 0; g < t.groups; ++g) {
    int32_t dot[MR][NR] = {};
    for (size_t c = 0; c < t.group_stride; c += KC, w += chunk_bytes) {
      for (size_t j = 0; j < NR; ++j) {
        for (size_t e = 0; e < KC; ++e) {
          int32_t u;
          if constexpr (kNibbles) {
            const uint8_t b = w[j * KC / 2 + e % (KC / 2)];
            u = e < KC / 2 ? b & 0x0F : b >> 4;
          } else {
            u = static_cast<Value>(w[j * KC + e]);
          }
          for (size_t i = 0; i < t.mr; ++i) {
            dot[i][j] += u * t.x[i * t.x_stride + g * t.group_stride + c + e];
          }
        }
      }
    }
    for (size_t i = 0; i < t.mr; ++i) {
      const int32_t xs = t.x_sum[i * t.x_sum_stride + g];
      for (size_t j = 0; j < NR; ++j) {
        acc[i][j] += t.w_scale[g * NR + j] * float(dot[i][j] - t.zero_point * xs);
        if (t.w_min) acc[i][j] += t.w_min[g * NR + j] * float(xs);
      }
    }
  }
  for (size_t i = 0; i < t.mr; ++i) {
    for (size_t j = 0; j < t.nr; ++j) {
      t.y[i * t.y_stride + j] = acc[i][j] * t.x_scale[i] + (t.bias ? t.bias[j] : 0.0f);
    }
  }
}

}  // namespace

void q8_gemm_4x8__ref(const QGemmTile& t) { q_gemm_ref<4, 8, 4, false, int8_t>(t); }
void q4_gemm_4x8__ref(const QGemmTile& t) { q_gemm_ref<4, 8, 8, true, uint8_t>(t); }

}  // namespace sparq::kernels
