// f32 CSR SpMV with AVX-512: gathers the activations of 16 non-zeros of one output row at a
// time.
#include <immintrin.h>

#include "kernels/sparse_gemm.h"

namespace sparq::kernels {

void f32_spmv_csr__avx512(const CsrPackedF32& w, size_t n_begin, size_t n_end, const float* x,
                          const float* bias, float* y) {
  for (size_t n = n_begin; n < n_end; ++n) {
    __m512 acc = _mm512_setzero_ps();
    const uint32_t end = w.row_ptr[n + 1];
    for (uint32_t i = w.row_ptr[n]; i < end; i += 16) {
      const __mmask16 live = end - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (end - i)) - 1);
      const __m512i idx = _mm512_maskz_loadu_epi32(live, w.col.data() + i);
      const __m512 xv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, idx, x, 4);
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(live, w.values.data() + i), xv, acc);
    }
    const float dot = _mm512_reduce_add_ps(acc);
    y[n] = bias ? dot + bias[n] : dot;
  }
}

}  // namespace sparq::kernels
