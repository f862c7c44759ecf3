// The f16 and bf16 GEMM of the avx2 level, written once over the widening (the weight
// type), the tile height MR and the number U of independent accumulator sets along k, and
// instantiated by kernels/avx2/half_gemm_6x16__avx2.cpp (prefill) and
// half_gemv_4x16__avx2.cpp (decode). Panels are the f32 layout with 2-byte values: per k
// step 16 outputs in 32 bytes, widened exactly to f32 by two F16C vcvtph2ps (f16) or
// zero-extension and a 16-bit shift (bf16, the upper half of an f32).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels {
namespace {

struct WidenF16x8 {
  static __m256 load(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
};

struct WidenBf16x8 {
  static __m256 load(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
};

// MR rows x 16 outputs. With U > 1, k steps c, ..., c+U-1 go to U accumulator sets added
// at the end: a GEMV of one row then keeps 2·U FMA chains in flight instead of 2.
template <class Widen, size_t MR, size_t U>
void half_gemm_avx2(const HalfGemmTile& t) {
  constexpr size_t NR = 16;
  const float* x[MR];
  for (size_t i = 0; i < MR; ++i) x[i] = t.x + std::min(i, t.mr - 1) * t.x_stride;
  __m256 acc[U][MR][2];
#pragma GCC unroll 4
  for (size_t u = 0; u < U; ++u)
#pragma GCC unroll 6
    for (size_t i = 0; i < MR; ++i) acc[u][i][0] = acc[u][i][1] = _mm256_setzero_ps();
  const uint16_t* w = t.w;
  size_t c = 0;
  for (; c + U <= t.k; c += U, w += U * NR) {
    if constexpr (U > 1) _mm_prefetch(reinterpret_cast<const char*>(w) + 2048, _MM_HINT_T0);
#pragma GCC unroll 4
    for (size_t u = 0; u < U; ++u) {
      const __m256 w0 = Widen::load(w + u * NR), w1 = Widen::load(w + u * NR + 8);
#pragma GCC unroll 6
      for (size_t i = 0; i < MR; ++i) {
        const __m256 xb = _mm256_broadcast_ss(x[i] + c + u);
        acc[u][i][0] = _mm256_fmadd_ps(xb, w0, acc[u][i][0]);
        acc[u][i][1] = _mm256_fmadd_ps(xb, w1, acc[u][i][1]);
      }
    }
  }
  for (; c < t.k; ++c, w += NR) {
    const __m256 w0 = Widen::load(w), w1 = Widen::load(w + 8);
#pragma GCC unroll 6
    for (size_t i = 0; i < MR; ++i) {
      const __m256 xb = _mm256_broadcast_ss(x[i] + c);
      acc[0][i][0] = _mm256_fmadd_ps(xb, w0, acc[0][i][0]);
      acc[0][i][1] = _mm256_fmadd_ps(xb, w1, acc[0][i][1]);
    }
  }
  // Spilled with constant indices only, as in f32_gemm_6x16__avx2: indexing acc by the
  // run-time t.mr would keep every accumulator in memory.
  alignas(32) float rows[MR][NR];
#pragma GCC unroll 6
  for (size_t i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (size_t u = 1; u < U; ++u) {
      acc[0][i][0] = _mm256_add_ps(acc[0][i][0], acc[u][i][0]);
      acc[0][i][1] = _mm256_add_ps(acc[0][i][1], acc[u][i][1]);
    }
    _mm256_store_ps(rows[i], acc[0][i][0]);
    _mm256_store_ps(rows[i] + 8, acc[0][i][1]);
  }
  for (size_t i = 0; i < t.mr; ++i) {
    float* y = t.y + i * t.y_stride;
    for (size_t j = 0; j < t.nr; ++j) y[j] = rows[i][j] + (t.bias ? t.bias[j] : 0.0f);
  }
}

// Decode: exactly t.mr <= 4 rows, with the accumulator sets that keep 8 FMA chains busy.
template <class Widen>
void half_gemv_avx2(const HalfGemmTile& t) {
  switch (t.mr) {
    case 1: half_gemm_avx2<Widen, 1, 4>(t); break;
    case 2: half_gemm_avx2<Widen, 2, 2>(t); break;
    case 3: half_gemm_avx2<Widen, 3, 1>(t); break;
    default: half_gemm_avx2<Widen, 4, 1>(t); break;
  }
}

}  // namespace
}  // namespace sparq::kernels
