// The prefill GEMMs on expanded bitmap rows with vpmaddubsw + vpmaddwd
// (kernels/bitmap_gemm.h): 8 or 16 X rows (one or two vectors of 8 lanes) x 2 weight rows.
// vpmaddubsw saturates u8·s8 pairs above 32767, so the weights stay signed and enter as |w|
// with w's sign moved onto x (pairs ≤ 2·128·127), as kernels/avx2/q_gemm_4x16__avx2.cpp's q8.
#include "kernels/avx2/expanded_bitmap_gemm_template__avx2.h"
#include "kernels/avx2/f32x8__avx2.h"

namespace sparq::kernels {
namespace {

struct S8DotAvx2 {
  using F = F32x8;
  using I = __m256i;
  struct W {
    __m256i magnitude, sign;
  };
  static I zero() { return _mm256_setzero_si256(); }
  static I load_x(const int8_t* p) {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
  }
  static W weight(const uint8_t* p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    const __m256i w = _mm256_set1_epi32(v);
    return {_mm256_abs_epi8(w), w};
  }
  static I dot(I acc, W w, I x) {
    const __m256i pairs = _mm256_maddubs_epi16(w.magnitude, _mm256_sign_epi8(x, w.sign));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
  static F::reg group_value(I dot, const int32_t*) { return _mm256_cvtepi32_ps(dot); }
};

}  // namespace

void s8_expanded_bitmap_gemm_8x2__avx2(const BitmapExpandedGemmTile& t) {
  expanded_bitmap_gemm_x86<S8DotAvx2, 2, 1>(t);
}
void s8_expanded_bitmap_gemm_16x2__avx2(const BitmapExpandedGemmTile& t) {
  expanded_bitmap_gemm_x86<S8DotAvx2, 2, 2>(t);
}

}  // namespace sparq::kernels
