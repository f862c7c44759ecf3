// The q8 and q4 GEMM on vpdpbusd, written once over the tile height MR, the vectors of
// outputs NV and the weight type, and instantiated by kernels/avx512vnni/q*_gemm_*.cpp.
// Weights are the unsigned operand (q8 + 128, or q4 nibbles 0..15), activations the signed
// one, broadcast 4 at a time; the zero point comes off exactly in int32 per group as
// zero_point · Σx.
#pragma once

#include <immintrin.h>

#include <algorithm>

#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels {
namespace {

template <size_t MR, size_t NV, bool kNibbles>
void q_gemm_avx512vnni(const QGemmTile& t) {
  constexpr size_t NR = 16 * NV;
  constexpr size_t KC = kNibbles ? 8 : 4;
  constexpr size_t chunk_bytes = kNibbles ? NR * KC / 2 : NR * KC;
  const QTileRows<MR> rows = q_tile_rows<MR>(t);
  const auto& x = rows.x;
  const auto& xs = rows.sums;
  __m512 acc[MR][NV];
#pragma GCC unroll 8
  for (size_t i = 0; i < MR; ++i)
    for (size_t v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();

  const uint8_t* w = t.w;
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  for (size_t g = 0; g < t.groups; ++g) {
    __m512i dot[MR][NV];
#pragma GCC unroll 8
    for (size_t i = 0; i < MR; ++i)
      for (size_t v = 0; v < NV; ++v) dot[i][v] = _mm512_setzero_si512();
    const size_t x_off = g * t.group_stride;
    for (size_t c = 0; c < t.group_stride; c += KC, w += chunk_bytes) {
      _mm_prefetch(reinterpret_cast<const char*>(w) + 4096, _MM_HINT_T0);
      __m512i wv[NV], wh[NV];
#pragma GCC unroll 4
      for (size_t v = 0; v < NV; ++v) {
        const __m512i raw = _mm512_load_si512(w + v * 64);
        if constexpr (kNibbles) {
          wv[v] = _mm512_and_si512(raw, low_nibbles);
          wh[v] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low_nibbles);
        } else {
          wv[v] = raw;
        }
      }
#pragma GCC unroll 8
      for (size_t i = 0; i < MR; ++i) {
        int32_t lo;
        __builtin_memcpy(&lo, x[i] + x_off + c, 4);
        const __m512i xb = _mm512_set1_epi32(lo);
#pragma GCC unroll 4
        for (size_t v = 0; v < NV; ++v) dot[i][v] = _mm512_dpbusd_epi32(dot[i][v], wv[v], xb);
        if constexpr (kNibbles) {
          int32_t hi;
          __builtin_memcpy(&hi, x[i] + x_off + c + 4, 4);
          const __m512i xh = _mm512_set1_epi32(hi);
#pragma GCC unroll 4
          for (size_t v = 0; v < NV; ++v) dot[i][v] = _mm512_dpbusd_epi32(dot[i][v], wh[v], xh);
        }
      }
    }
    const float* sw = t.w_scale + g * NR;
    const float* mw = t.w_min ? t.w_min + g * NR : nullptr;
#pragma GCC unroll 8
    for (size_t i = 0; i < MR; ++i) {
      const __m512i zp = _mm512_set1_epi32(t.zero_point * xs[i][g]);
      const __m512 xsum = _mm512_set1_ps(float(xs[i][g]));
#pragma GCC unroll 4
      for (size_t v = 0; v < NV; ++v) {
        const __m512 d = _mm512_cvtepi32_ps(_mm512_sub_epi32(dot[i][v], zp));
        acc[i][v] = _mm512_fmadd_ps(_mm512_load_ps(sw + 16 * v), d, acc[i][v]);
        if (mw) acc[i][v] = _mm512_fmadd_ps(_mm512_load_ps(mw + 16 * v), xsum, acc[i][v]);
      }
    }
  }

  __m512 bias[NV];
  __mmask16 mask[NV];
  for (size_t v = 0; v < NV; ++v) {
    const size_t left = t.nr > 16 * v ? std::min<size_t>(t.nr - 16 * v, 16) : 0;
    mask[v] = __mmask16((1u << left) - 1);
    bias[v] = t.bias ? _mm512_maskz_loadu_ps(mask[v], t.bias + 16 * v) : _mm512_setzero_ps();
  }
  for (size_t i = 0; i < t.mr; ++i) {
    const __m512 sx = _mm512_set1_ps(t.x_scale[i]);
    for (size_t v = 0; v < NV; ++v) {
      _mm512_mask_storeu_ps(t.y + i * t.y_stride + 16 * v, mask[v],
                            _mm512_fmadd_ps(acc[i][v], sx, bias[v]));
    }
  }
}

// GEMV tiles: instantiated for the exact row count, so M = 1 does not compute (and read
// activations for) rows it then throws away.
template <bool kNibbles>
void q_gemv_avx512vnni(const QGemmTile& t) {
  switch (t.mr) {
    case 1: return q_gemm_avx512vnni<1, 2, kNibbles>(t);
    case 2: return q_gemm_avx512vnni<2, 2, kNibbles>(t);
    case 3: return q_gemm_avx512vnni<3, 2, kNibbles>(t);
    default: return q_gemm_avx512vnni<4, 2, kNibbles>(t);
  }
}

}  // namespace

}  // namespace sparq::kernels
