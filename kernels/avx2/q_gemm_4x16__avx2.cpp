// q8 and q4 kernels on vpmaddubsw + vpmaddwd. vpmaddubsw saturates its u8·s8 pair sums at
// 32767, so q8 weights stay signed and enter as |w| with w's sign moved onto x
// (pairs ≤ 2·128·127 = 32512); q4 nibbles (0..15) are the unsigned operand as they are.
#include <immintrin.h>

#include <algorithm>

#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels {
namespace {

template <size_t MR, bool kNibbles>
void q_gemm_avx2(const QGemmTile& t) {
  constexpr size_t NV = 2, NR = 16;
  constexpr size_t KC = kNibbles ? 8 : 4;
  constexpr size_t chunk_bytes = kNibbles ? NR * KC / 2 : NR * KC;
  const QTileRows<MR> rows = q_tile_rows<MR>(t);
  const auto& x = rows.x;
  const auto& xs = rows.sums;
  __m256 acc[MR][NV];
  for (size_t i = 0; i < MR; ++i)
    for (size_t v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  const uint8_t* w = t.w;
  for (size_t g = 0; g < t.groups; ++g) {
    __m256i dot[MR][NV];
    for (size_t i = 0; i < MR; ++i)
      for (size_t v = 0; v < NV; ++v) dot[i][v] = _mm256_setzero_si256();
    const size_t x_off = g * t.group_stride;
    for (size_t c = 0; c < t.group_stride; c += KC, w += chunk_bytes) {
      _mm_prefetch(reinterpret_cast<const char*>(w) + 1024, _MM_HINT_T0);
      __m256i wa[NV], wb[NV];
#pragma GCC unroll 2
      for (size_t v = 0; v < NV; ++v) {
        const __m256i raw = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 32 * v));
        if constexpr (kNibbles) {
          wa[v] = _mm256_and_si256(raw, low_nibbles);
          wb[v] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low_nibbles);
        } else {
          wa[v] = _mm256_abs_epi8(raw);
          wb[v] = raw;  // the signs
        }
      }
#pragma GCC unroll 4
      for (size_t i = 0; i < MR; ++i) {
        int32_t x0;
        __builtin_memcpy(&x0, x[i] + x_off + c, 4);
        const __m256i xb = _mm256_set1_epi32(x0);
        if constexpr (kNibbles) {
          int32_t x1;
          __builtin_memcpy(&x1, x[i] + x_off + c + 4, 4);
          const __m256i xh = _mm256_set1_epi32(x1);
#pragma GCC unroll 2
          for (size_t v = 0; v < NV; ++v) {
            const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(wa[v], xb),
                                               _mm256_maddubs_epi16(wb[v], xh));
            dot[i][v] = _mm256_add_epi32(dot[i][v], _mm256_madd_epi16(p, ones));
          }
        } else {
#pragma GCC unroll 2
          for (size_t v = 0; v < NV; ++v) {
            const __m256i p = _mm256_maddubs_epi16(wa[v], _mm256_sign_epi8(xb, wb[v]));
            dot[i][v] = _mm256_add_epi32(dot[i][v], _mm256_madd_epi16(p, ones));
          }
        }
      }
    }
    const float* sw = t.w_scale + g * NR;
    const float* mw = t.w_min ? t.w_min + g * NR : nullptr;
    for (size_t i = 0; i < MR; ++i) {
      const __m256i zp = _mm256_set1_epi32(t.zero_point * xs[i][g]);
      const __m256 xsum = _mm256_set1_ps(float(xs[i][g]));
      for (size_t v = 0; v < NV; ++v) {
        const __m256 d = _mm256_cvtepi32_ps(_mm256_sub_epi32(dot[i][v], zp));
        acc[i][v] = _mm256_fmadd_ps(_mm256_load_ps(sw + 8 * v), d, acc[i][v]);
        if (mw) acc[i][v] = _mm256_fmadd_ps(_mm256_load_ps(mw + 8 * v), xsum, acc[i][v]);
      }
    }
  }
  for (size_t i = 0; i < t.mr; ++i) {
    alignas(32) float row[NR];
    const __m256 sx = _mm256_set1_ps(t.x_scale[i]);
    for (size_t v = 0; v < NV; ++v) _mm256_store_ps(row + 8 * v, _mm256_mul_ps(acc[i][v], sx));
    float* y = t.y + i * t.y_stride;
    for (size_t j = 0; j < t.nr; ++j) y[j] = row[j] + (t.bias ? t.bias[j] : 0.0f);
  }
}

// Instantiated for the exact row count, so GEMV (M = 1..3) and row edges do not compute
// rows they then throw away.
template <bool kNibbles>
void q_gemm_4x16_avx2(const QGemmTile& t) {
  switch (t.mr) {
    case 1: return q_gemm_avx2<1, kNibbles>(t);
    case 2: return q_gemm_avx2<2, kNibbles>(t);
    case 3: return q_gemm_avx2<3, kNibbles>(t);
    default: return q_gemm_avx2<4, kNibbles>(t);
  }
}

}  // namespace

void q8_gemm_4x16__avx2(const QGemmTile& t) { q_gemm_4x16_avx2<false>(t); }
void q4_gemm_4x16__avx2(const QGemmTile& t) { q_gemm_4x16_avx2<true>(t); }

}  // namespace sparq::kernels
