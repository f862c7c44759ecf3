// q8 SpMM and SpMV on quad-packed weights (pack_quads_q8) with AVX2, which has no u8·s8
// dot product into int32: vpmaddubsw (u8·s8 pairs into saturating int16) + vpmaddwd
// (pairs into int32). The u8 offset trick of the VNNI kernels would saturate here
// (255·127·2 > 32767), so the activations go back to signed q (q8 panel byte ^ 0x80) and
// the sign moves onto them: |w| (0..128, exact as u8) · sign(q, w) (|q| ≤ 127), a pair is at
// most 2·128·127 = 32512 — never saturates, so results match the reference bit for bit,
// and no 128·Σw correction is needed.
// SpMM: the panel is [k4][32 rows][4] u8; a quad's 8 panel rows cost one load and one xor,
// shared by the group's weight rows, then (vpsignb, vpmaddubsw, vpmaddwd, add) per weight
// row. 32 rows keep the panel at 32·K bytes (24 KB for K = 768, L1-resident) on these
// older cores.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/sparse_gemm.h"

namespace sparq::kernels {

namespace {

constexpr int kVectors = kQ8PanelRowsAvx2 / 8;

// Σ_j q[4i+j]·w[4i+j] per 32-bit lane, with `q` the signed activations and `w` split into
// |w| and w (for the sign).
inline __m256i dot4_signed(__m256i q, __m256i w_abs, __m256i w) {
  const __m256i pairs = _mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(q, w));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

// The same with `x_u8` = q + 128, as the panels and the SpMV activations store them.
inline __m256i signed_activations(__m256i x_u8) {
  return _mm256_xor_si256(x_u8, _mm256_set1_epi8(char(0x80)));
}
inline __m256i dot4(__m256i x_u8, __m256i w_abs, __m256i w) {
  return dot4_signed(signed_activations(x_u8), w_abs, w);
}

inline __m256i broadcast_quad(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

inline float finish(const QuadPackedQ8& w, size_t n, int32_t dot, float x_scale,
                    const float* bias) {
  return std::fma(float(dot), x_scale * w.scales[n], bias ? bias[n] : 0.0f);
}

template <int R>
void q8_spmm(const QuadPackedQ8& w, size_t n_begin, size_t n_end, const uint8_t* panel,
             const float* x_scales, size_t m_valid, const float* bias, float* y, size_t ldy) {
  constexpr size_t kQuadBytes = kQ8PanelRowsAvx2 * 4;
  // Panel vectors per pass over the group's quads. All 32 rows against 4 weight rows are 16
  // accumulators, the whole register file: GCC spilled and reloaded them on every quad.
  // Half the rows per pass keeps accumulators, activations and weights in registers, at the
  // price of reading the group's (L1-resident) columns and weights twice.
  constexpr int kPass = R == 1 ? kVectors : 2;
  for (uint64_t g = n_begin / R; g * R < n_end; ++g) {
    const uint16_t* cols = w.cols_of(g);
    const int8_t* wts = w.weights_of(g);
    const uint64_t count = w.count_of(g);
    alignas(32) int32_t dots[R][kQ8PanelRowsAvx2];
    for (int v0 = 0; v0 < kVectors; v0 += kPass) {
      __m256i acc[R][kPass];
      for (auto& row : acc)
        for (auto& a : row) a = _mm256_setzero_si256();
      for (uint64_t q = 0; q < count; ++q) {
        const uint8_t* x = panel + size_t(cols[q]) * kQuadBytes + v0 * 32;
        __m256i xq[kPass];
        for (int v = 0; v < kPass; ++v) {
          xq[v] = signed_activations(_mm256_load_si256(reinterpret_cast<const __m256i*>(x + v * 32)));
        }
        for (int r = 0; r < R; ++r) {
          const __m256i b = broadcast_quad(wts + (q * R + r) * 4), b_abs = _mm256_abs_epi8(b);
          for (int v = 0; v < kPass; ++v) {
            acc[r][v] = _mm256_add_epi32(acc[r][v], dot4_signed(xq[v], b_abs, b));
          }
        }
      }
      // Stored with constant indices only, so the accumulators never need a stack copy.
      for (int r = 0; r < R; ++r)
        for (int v = 0; v < kPass; ++v)
          _mm256_store_si256(reinterpret_cast<__m256i*>(dots[r] + (v0 + v) * 8), acc[r][v]);
    }
    for (int r = 0; r < R; ++r) {
      const size_t n = g * R + r;
      if (n >= n_end) break;
      for (size_t m = 0; m < m_valid; ++m) y[m * ldy + n] = finish(w, n, dots[r][m], x_scales[m], bias);
    }
  }
}

}  // namespace

void q8_spmm_1x4__avx2(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                       const uint8_t* panel, const float* x_scales, size_t m_valid,
                       const float* bias, float* y, size_t ldy) {
  q8_spmm<1>(w, n_begin, n_end, panel, x_scales, m_valid, bias, y, ldy);
}

void q8_spmm_4x4__avx2(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                       const uint8_t* panel, const float* x_scales, size_t m_valid,
                       const float* bias, float* y, size_t ldy) {
  q8_spmm<4>(w, n_begin, n_end, panel, x_scales, m_valid, bias, y, ldy);
}

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
