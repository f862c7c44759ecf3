// q8 SpMM and SpMV on quad-packed weights (pack_quads_q8) for aarch64. A q register holds
// 4 rows of X x one quad (4 columns); activations go back from the panel's u8 (q + 128) to
// signed q (eor 0x80), so the products are s8·s8 and no 128·Σw correction is needed.
// Two ways to form the 4-column dot products, picked by the config:
//  - sdot (dotprod): one instruction;
//  - smull/smull2 into 16-bit products, addp pairs (|pair| ≤ 2·127·128, fits int16),
//    sadalp into int32 — exact, for cores without dotprod.
// SpMM: the panel is [k4][16 rows][4]; one quad of one output row costs 4 loads and 4 dot
// products (broadcast weight quad), with two accumulator sets for 1-row groups so that
// sdot latency is hidden. SpMV: 4 quads of one row per step (activations assembled with
// lane loads), or for 4-row groups one broadcast activation quad per quad.
//
// Written once over `D` (D::dot(acc, x, w) adds the 4-column dot products of x and w to the
// 4 int32 lanes of acc: Widening, or Sdot where the compiler targets dotprod) and
// instantiated by kernels/neon*/q8_sp{mm,mv}_quads__*.cpp with SPARQ_Q8_SPMM_QUADS and
// SPARQ_Q8_SPMV_QUADS. Include only from kernels/neon* translation units; everything here
// has internal linkage, so that no copy compiled with one level's flags can be the one the
// linker keeps for another level.
#pragma once

#include <arm_neon.h>

#include <cmath>

#include "kernels/sparse_gemm.h"

namespace sparq::kernels {
namespace {

constexpr int kVectors = kQ8PanelRowsNeon / 4;

struct Widening {
  static int32x4_t dot(int32x4_t acc, int8x16_t x, int8x16_t w) {
    const int16x8_t pairs = vpaddq_s16(vmull_s8(vget_low_s8(x), vget_low_s8(w)),
                                       vmull_high_s8(x, w));
    return vpadalq_s16(acc, pairs);
  }
};

#if defined(__ARM_FEATURE_DOTPROD)
struct Sdot {
  static int32x4_t dot(int32x4_t acc, int8x16_t x, int8x16_t w) { return vdotq_s32(acc, x, w); }
};
#endif

inline int8x16_t to_signed(uint8x16_t x_u8) {
  return vreinterpretq_s8_u8(veorq_u8(x_u8, vdupq_n_u8(0x80)));
}

inline int8x16_t broadcast_quad(const void* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

inline float finish(const QuadPackedQ8& w, size_t n, int32_t dot, float x_scale,
                    const float* bias) {
  return std::fma(float(dot), x_scale * w.scales[n], bias ? bias[n] : 0.0f);
}

template <class D, int R>
void q8_spmm(const QuadPackedQ8& w, size_t n_begin, size_t n_end, const uint8_t* panel,
             const float* x_scales, size_t m_valid, const float* bias, float* y, size_t ldy) {
  constexpr int S = R == 1 ? 2 : 1;
  constexpr size_t kQuadBytes = kQ8PanelRowsNeon * 4;
  for (uint64_t g = n_begin / R; g * R < n_end; ++g) {
    int32x4_t a[S][R][kVectors];
    for (auto& set : a)
      for (auto& row : set)
        for (auto& v : row) v = vdupq_n_s32(0);
    const uint16_t* cols = w.cols_of(g);
    const int8_t* wts = w.weights_of(g);
    const uint64_t count = w.count_of(g);
    auto step = [&](int s, uint64_t q) {
      const uint8_t* x = panel + size_t(cols[q]) * kQuadBytes;
      int8x16_t xv[kVectors];
      for (int v = 0; v < kVectors; ++v) xv[v] = to_signed(vld1q_u8(x + v * 16));
      for (int r = 0; r < R; ++r) {
        const int8x16_t b = broadcast_quad(wts + (q * R + r) * 4);
        for (int v = 0; v < kVectors; ++v) a[s][r][v] = D::dot(a[s][r][v], xv[v], b);
      }
    };
    uint64_t q = 0;
    for (; q + S <= count; q += S)
      for (int s = 0; s < S; ++s) step(s, q + s);
    for (; q < count; ++q) step(0, q);
    for (int r = 0; r < R; ++r) {
      const size_t n = g * R + r;
      if (n >= n_end) break;
      int32_t dots[kQ8PanelRowsNeon];
      for (int v = 0; v < kVectors; ++v) {
        int32x4_t sum = a[0][r][v];
        for (int s = 1; s < S; ++s) sum = vaddq_s32(sum, a[s][r][v]);
        vst1q_s32(dots + v * 4, sum);
      }
      for (size_t m = 0; m < m_valid; ++m) y[m * ldy + n] = finish(w, n, dots[m], x_scales[m], bias);
    }
  }
}

template <class D>
void q8_spmv_1x4(const QuadPackedQ8& w, size_t n_begin, size_t n_end, const uint8_t* x_u8,
                 float x_scale, const float* bias, float* y) {
  for (size_t n = n_begin; n < n_end; ++n) {
    const uint16_t* cols = w.cols_of(n);
    const int8_t* wts = w.weights_of(n);
    const uint64_t count = w.count_of(n);
    int32x4_t acc[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
    uint64_t i = 0;
    for (; i + 4 <= count; i += 4) {
      uint32x4_t xq = vdupq_n_u32(0);
      xq = vld1q_lane_u32(reinterpret_cast<const uint32_t*>(x_u8 + size_t(cols[i]) * 4), xq, 0);
      xq = vld1q_lane_u32(reinterpret_cast<const uint32_t*>(x_u8 + size_t(cols[i + 1]) * 4), xq, 1);
      xq = vld1q_lane_u32(reinterpret_cast<const uint32_t*>(x_u8 + size_t(cols[i + 2]) * 4), xq, 2);
      xq = vld1q_lane_u32(reinterpret_cast<const uint32_t*>(x_u8 + size_t(cols[i + 3]) * 4), xq, 3);
      acc[(i / 4) % 2] = D::dot(acc[(i / 4) % 2], to_signed(vreinterpretq_u8_u32(xq)), vld1q_s8(wts + i * 4));
    }
    int32_t dot = vaddvq_s32(vaddq_s32(acc[0], acc[1]));
    for (; i < count; ++i) {
      for (int j = 0; j < 4; ++j) dot += (int(x_u8[size_t(cols[i]) * 4 + j]) - 128) * wts[i * 4 + j];
    }
    y[n] = finish(w, n, dot, x_scale, bias);
  }
}

template <class D>
void q8_spmv_4x4(const QuadPackedQ8& w, size_t n_begin, size_t n_end, const uint8_t* x_u8,
                 float x_scale, const float* bias, float* y) {
  for (uint64_t g = n_begin / 4; g * 4 < n_end; ++g) {
    const uint16_t* cols = w.cols_of(g);
    const int8_t* wts = w.weights_of(g);
    const uint64_t count = w.count_of(g);
    int32x4_t acc[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
    for (uint64_t i = 0; i < count; ++i) {
      const int8x16_t xv = to_signed(vreinterpretq_u8_s8(broadcast_quad(x_u8 + size_t(cols[i]) * 4)));
      acc[i % 2] = D::dot(acc[i % 2], xv, vld1q_s8(wts + i * 16));
    }
    int32_t dots[4];
    vst1q_s32(dots, vaddq_s32(acc[0], acc[1]));
    for (size_t r = 0; r < 4 && g * 4 + r < n_end; ++r) {
      y[g * 4 + r] = finish(w, g * 4 + r, dots[r], x_scale, bias);
    }
  }
}

}  // namespace

#define SPARQ_Q8_SPMM_QUADS(suffix, D)                                                        \
  void q8_spmm_1x4__##suffix(const QuadPackedQ8& w, size_t nb, size_t ne, const uint8_t* p, \
                             const float* xs, size_t mv, const float* b, float* y, size_t ld, \
                             bool) {                                                         \
    q8_spmm<D, 1>(w, nb, ne, p, xs, mv, b, y, ld);                                           \
  }                                                                                          \
  void q8_spmm_4x4__##suffix(const QuadPackedQ8& w, size_t nb, size_t ne, const uint8_t* p, \
                             const float* xs, size_t mv, const float* b, float* y, size_t ld, \
                             bool) {                                                         \
    q8_spmm<D, 4>(w, nb, ne, p, xs, mv, b, y, ld);                                           \
  }

#define SPARQ_Q8_SPMV_QUADS(suffix, D)                                                        \
  void q8_spmv_1x4__##suffix(const QuadPackedQ8& w, size_t nb, size_t ne, const uint8_t* x, \
                             float xs, const float* b, float* y) {                          \
    q8_spmv_1x4<D>(w, nb, ne, x, xs, b, y);                                                  \
  }                                                                                          \
  void q8_spmv_4x4__##suffix(const QuadPackedQ8& w, size_t nb, size_t ne, const uint8_t* x, \
                             float xs, const float* b, float* y) {                          \
    q8_spmv_4x4<D>(w, nb, ne, x, xs, b, y);                                                  \
  }

}  // namespace sparq::kernels
