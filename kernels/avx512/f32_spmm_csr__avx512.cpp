// f32 CSR SpMM with AVX-512, vectorized over rows of X (a K-major panel of 64 rows): each
// non-zero is broadcast once and multiplies 4 vectors of activations.
#include <immintrin.h>

#include <algorithm>

#include "kernels/avx512/sparse_transpose__avx512.h"
#include "kernels/sparse_gemm.h"

namespace sparq::kernels {

namespace {
constexpr int kVectors = kSparsePanelRows / 16;
}  // namespace

void f32_spmm_csr__avx512(const CsrPackedF32& w, size_t n_begin, size_t n_end,
                          const float* panel, size_t m_valid, const float* bias, float* y,
                          size_t ldy) {
  alignas(64) float tile[16][64];
  for (size_t n0 = n_begin; n0 < n_end; n0 += 16) {
    const size_t n_valid = std::min<size_t>(16, n_end - n0);
    for (size_t n = n0; n < n0 + n_valid; ++n) {
      // Two accumulator sets so consecutive non-zeros do not wait on each other's FMA.
      __m512 a[2][kVectors];
      for (auto& set : a)
        for (auto& v : set) v = _mm512_setzero_ps();
      const uint32_t end = w.row_ptr[n + 1];
      auto step = [&](int s, uint32_t i) {
        const __m512 wv = _mm512_set1_ps(w.values[i]);
        const float* x = panel + size_t(w.col[i]) * kSparsePanelRows;
        for (int v = 0; v < kVectors; ++v)
          a[s][v] = _mm512_fmadd_ps(wv, _mm512_load_ps(x + v * 16), a[s][v]);
      };
      uint32_t i = w.row_ptr[n];
      for (; i + 2 <= end; i += 2) {
        step(0, i);
        step(1, i + 1);
      }
      if (i < end) step(0, i);
      const __m512 b = _mm512_set1_ps(bias ? bias[n] : 0.0f);
      for (int v = 0; v < kVectors; ++v) {
        _mm512_store_ps(tile[n - n0] + v * 16,
                        _mm512_add_ps(_mm512_add_ps(a[0][v], a[1][v]), b));
      }
    }
    avx512::store_transposed_tile<kSparsePanelRows>(tile, m_valid, n_valid, y + n0, ldy, true);
  }
  _mm_sfence();  // order the streaming stores before the caller's barrier
}

}  // namespace sparq::kernels
