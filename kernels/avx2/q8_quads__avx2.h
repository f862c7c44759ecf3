// What the AVX2 q8 SpMM and SpMV on quad-packed weights (pack_quads_q8) share. AVX2 has no
// u8·s8 dot product into int32: vpmaddubsw (u8·s8 pairs into saturating int16) + vpmaddwd
// (pairs into int32). The u8 offset trick of the VNNI kernels would saturate here
// (255·127·2 > 32767), so the activations go back to signed q (q8 panel byte ^ 0x80) and
// the sign moves onto them: |w| (0..128, exact as u8) · sign(q, w) (|q| ≤ 127), a pair is at
// most 2·128·127 = 32512 — never saturates, so results match the reference bit for bit,
// and no 128·Σw correction is needed.
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "kernels/pack_sparse.h"

namespace sparq::kernels::avx2 {

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

}  // namespace sparq::kernels::avx2
