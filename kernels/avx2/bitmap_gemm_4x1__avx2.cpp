// Bitmap q8/q4 GEMV and small GEMM with AVX2's vpmaddubsw (kernels/avx2/bitmap_gemm_template__avx2.h).
#include "kernels/avx2/bitmap_gemm_template__avx2.h"

namespace sparq::kernels {
namespace {

constexpr auto dot_maddubs = [](__m256i acc, __m256i magnitude, __m256i signed_x) {
  const __m256i pairs = _mm256_maddubs_epi16(magnitude, signed_x);
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
};

}  // namespace

void q8_bitmap_gemm_4x1__avx2(const BitmapGemmTile& t) { bitmap_gemm_x86<expand_q8>(t, dot_maddubs); }
void q4_bitmap_gemm_4x1__avx2(const BitmapGemmTile& t) { bitmap_gemm_x86<expand_q4>(t, dot_maddubs); }

}  // namespace sparq::kernels
