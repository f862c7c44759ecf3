// Bitmap q8/q4 GEMV and small GEMM whose expansion is VBMI2's vpexpandb
// (kernels/avx512vbmi2/bitmap_word_expand__avx512vbmi2.h). The rest (vpdpbusd on |w| and
// x with w's sign, the group lanes) is kernels/avx2/bitmap_gemm_template__avx2.h's.
#include "kernels/avx2/bitmap_gemm_template__avx2.h"
#include "kernels/avx512vbmi2/bitmap_word_expand__avx512vbmi2.h"

namespace sparq::kernels {
namespace {

constexpr auto dot_vnni = [](__m256i acc, __m256i magnitude, __m256i signed_x) {
  return _mm256_dpbusd_epi32(acc, magnitude, signed_x);
};

}  // namespace

void q8_bitmap_gemm_4x1__avx512vbmi2(const BitmapGemmTile& t) {
  bitmap_gemm_x86<expand_q8_vbmi2>(t, dot_vnni);
}
void q4_bitmap_gemm_4x1__avx512vbmi2(const BitmapGemmTile& t) {
  bitmap_gemm_x86<expand_q4_vbmi2>(t, dot_vnni);
}

}  // namespace sparq::kernels
