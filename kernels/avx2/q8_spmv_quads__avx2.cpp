// q8 SpMV on quad-packed weights with AVX2 (kernels/avx2/q8_quads__avx2.h).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/avx2/q8_quads__avx2.h"
#include "kernels/sparse_gemm.h"

namespace sparq::kernels {

using namespace avx2;

// 1-row groups: 8 quads per step, activations by gather; the row's last partial step is
// staged through a zero-filled buffer (zero weights), so nothing reads past the stream.
void q8_spmv_1x4__avx2(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                       const uint8_t* x_u8, float x_scale, const float* bias, float* y) {
  for (size_t n = n_begin; n < n_end; ++n) {
    const uint16_t* cols = w.cols_of(n);
    const int8_t* wts = w.weights_of(n);
    const uint64_t count = w.count_of(n);
    __m256i acc = _mm256_setzero_si256();
    auto step = [&](const uint16_t* c, const int8_t* wq) {
      const __m256i idx = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c)));
      const __m256i xv = _mm256_i32gather_epi32(reinterpret_cast<const int*>(x_u8), idx, 4);
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wq));
      acc = _mm256_add_epi32(acc, dot4(xv, _mm256_abs_epi8(b), b));
    };
    uint64_t i = 0;
    for (; i + 8 <= count; i += 8) step(cols + i, wts + i * 4);
    if (i < count) {
      uint16_t c[8] = {};
      alignas(32) int8_t wq[32] = {};
      std::copy(cols + i, cols + count, c);
      std::copy(wts + i * 4, wts + count * 4, wq);
      step(c, wq);
    }
    const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    const __m128i s2 = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    y[n] = finish(w, n, _mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_shuffle_epi32(s2, 0xB1))),
                  x_scale, bias);
  }
}

// 4-row groups: one broadcast activation quad against the quad's 16 weight bytes (4 rows).
void q8_spmv_4x4__avx2(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                       const uint8_t* x_u8, float x_scale, const float* bias, float* y) {
  for (uint64_t g = n_begin / 4; g * 4 < n_end; ++g) {
    const uint16_t* cols = w.cols_of(g);
    const int8_t* wts = w.weights_of(g);
    __m256i acc = _mm256_setzero_si256();
    const uint64_t count = w.count_of(g);
    uint64_t i = 0;
    // Two quads per 256-bit step: lanes 0-3 the first quad's 4 rows, lanes 4-7 the second's.
    for (; i + 2 <= count; i += 2) {
      int32_t x0, x1;
      std::memcpy(&x0, x_u8 + size_t(cols[i]) * 4, 4);
      std::memcpy(&x1, x_u8 + size_t(cols[i + 1]) * 4, 4);
      const __m256i xv = _mm256_setr_epi32(x0, x0, x0, x0, x1, x1, x1, x1);
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wts + i * 16));
      acc = _mm256_add_epi32(acc, dot4(xv, _mm256_abs_epi8(b), b));
    }
    if (i < count) {
      const __m256i xv = broadcast_quad(x_u8 + size_t(cols[i]) * 4);
      const __m256i b = _mm256_zextsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(wts + i * 16)));
      acc = _mm256_add_epi32(acc, dot4(xv, _mm256_abs_epi8(b), b));
    }
    alignas(16) int32_t dots[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(dots),
                    _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1)));
    for (size_t r = 0; r < 4 && g * 4 + r < n_end; ++r) {
      y[g * 4 + r] = finish(w, g * 4 + r, dots[r], x_scale, bias);
    }
  }
}

}  // namespace sparq::kernels
