// The f16 and bf16 GEMM of the avx512 level, written once over the widening (the weight
// type), the tile height MR and the number U of independent accumulator sets along k, and
// instantiated by kernels/avx512/half_gemm_8x32__avx512.cpp (prefill) and
// half_gemv_4x32__avx512.cpp (decode). Panels are the f32 layout with 2-byte values: per k
// step 32 outputs in one 64-byte line, widened exactly to f32 by two vcvtph2ps (f16) or
// zero-extension and a 16-bit shift (bf16, the upper half of an f32).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels {
namespace {

struct WidenF16x16 {
  static __m512 load(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
};

struct WidenBf16x16 {
  static __m512 load(const uint16_t* p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
};

// MR rows x 32 outputs. With U > 1, k steps c, c+1, ..., c+U-1 go to U accumulator sets
// that are added at the end: a GEMV of one row then keeps 2·U FMA chains in flight instead
// of 2, enough to stream the panel at memory speed.
template <class Widen, size_t MR, size_t U>
void half_gemm_avx512(const HalfGemmTile& t) {
  constexpr size_t NR = 32;
  const float* x[MR];
  for (size_t i = 0; i < MR; ++i) x[i] = t.x + std::min(i, t.mr - 1) * t.x_stride;
  __m512 acc[U][MR][2];
#pragma GCC unroll 8
  for (size_t u = 0; u < U; ++u)
#pragma GCC unroll 8
    for (size_t i = 0; i < MR; ++i) acc[u][i][0] = acc[u][i][1] = _mm512_setzero_ps();
  const uint16_t* w = t.w;
  size_t c = 0;
  for (; c + U <= t.k; c += U, w += U * NR) {
    if constexpr (U > 1) _mm_prefetch(reinterpret_cast<const char*>(w) + 2048, _MM_HINT_T0);
#pragma GCC unroll 4
    for (size_t u = 0; u < U; ++u) {
      const __m512 w0 = Widen::load(w + u * NR), w1 = Widen::load(w + u * NR + 16);
#pragma GCC unroll 8
      for (size_t i = 0; i < MR; ++i) {
        const __m512 xb = _mm512_set1_ps(x[i][c + u]);
        acc[u][i][0] = _mm512_fmadd_ps(xb, w0, acc[u][i][0]);
        acc[u][i][1] = _mm512_fmadd_ps(xb, w1, acc[u][i][1]);
      }
    }
  }
  for (; c < t.k; ++c, w += NR) {
    const __m512 w0 = Widen::load(w), w1 = Widen::load(w + 16);
#pragma GCC unroll 8
    for (size_t i = 0; i < MR; ++i) {
      const __m512 xb = _mm512_set1_ps(x[i][c]);
      acc[0][i][0] = _mm512_fmadd_ps(xb, w0, acc[0][i][0]);
      acc[0][i][1] = _mm512_fmadd_ps(xb, w1, acc[0][i][1]);
    }
  }
#pragma GCC unroll 4
  for (size_t u = 1; u < U; ++u)
#pragma GCC unroll 8
    for (size_t i = 0; i < MR; ++i) {
      acc[0][i][0] = _mm512_add_ps(acc[0][i][0], acc[u][i][0]);
      acc[0][i][1] = _mm512_add_ps(acc[0][i][1], acc[u][i][1]);
    }
  const size_t nr = t.nr;
  const __mmask16 m0 = nr >= 16 ? 0xFFFF : __mmask16((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : __mmask16((1u << (nr - 16)) - 1);
  __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
  if (t.bias) {
    b0 = _mm512_maskz_loadu_ps(m0, t.bias);
    b1 = _mm512_maskz_loadu_ps(m1, t.bias + 16);
  }
#pragma GCC unroll 8
  for (size_t i = 0; i < MR; ++i) {
    if (i >= t.mr) break;
    float* y = t.y + i * t.y_stride;
    _mm512_mask_storeu_ps(y, m0, _mm512_add_ps(acc[0][i][0], b0));
    _mm512_mask_storeu_ps(y + 16, m1, _mm512_add_ps(acc[0][i][1], b1));
  }
}

// Decode: exactly t.mr <= 4 rows, with the accumulator sets that keep 8 FMA chains busy.
template <class Widen>
void half_gemv_avx512(const HalfGemmTile& t) {
  switch (t.mr) {
    case 1: half_gemm_avx512<Widen, 1, 4>(t); break;
    case 2: half_gemm_avx512<Widen, 2, 2>(t); break;
    case 3: half_gemm_avx512<Widen, 3, 1>(t); break;
    default: half_gemm_avx512<Widen, 4, 1>(t); break;
  }
}

}  // namespace
}  // namespace sparq::kernels
