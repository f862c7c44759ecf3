// q8 SpMM on quad-packed weights with AVX2 (kernels/avx2/q8_quads__avx2.h).
// SpMM: the panel is [k4][32 rows][4] u8; a quad's 8 panel rows cost one load and one xor,
// shared by the group's weight rows, then (vpsignb, vpmaddubsw, vpmaddwd, add) per weight
// row. 32 rows keep the panel at 32·K bytes (24 KB for K = 768, L1-resident) on these
// older cores.
#include <immintrin.h>

#include "kernels/avx2/q8_quads__avx2.h"
#include "kernels/sparse_gemm.h"

namespace sparq::kernels {

namespace {

using namespace avx2;

constexpr int kVectors = kQ8PanelRowsAvx2 / 8;

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
                       const float* bias, float* y, size_t ldy, bool /*stream_y*/) {
  q8_spmm<1>(w, n_begin, n_end, panel, x_scales, m_valid, bias, y, ldy);
}

void q8_spmm_4x4__avx2(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                       const uint8_t* panel, const float* x_scales, size_t m_valid,
                       const float* bias, float* y, size_t ldy, bool /*stream_y*/) {
  q8_spmm<4>(w, n_begin, n_end, panel, x_scales, m_valid, bias, y, ldy);
}

}  // namespace sparq::kernels
