// Bitmap q8/q4 GEMV and small GEMM with AVX-512 VNNI's vpdpbusd on 256-bit vectors
// (kernels/avx2/bitmap_gemm_template__avx2.h).
#include "kernels/avx2/bitmap_gemm_template__avx2.h"

namespace sparq::kernels {
namespace {

constexpr auto dot_vnni = [](__m256i acc, __m256i magnitude, __m256i signed_x) {
  return _mm256_dpbusd_epi32(acc, magnitude, signed_x);
};

}  // namespace

void q8_bitmap_gemm_4x1__avx512vnni(const BitmapGemmTile& t) {
  bitmap_gemm_x86<expand_q8>(t, dot_vnni);
}
void q4_bitmap_gemm_4x1__avx512vnni(const BitmapGemmTile& t) {
  bitmap_gemm_x86<expand_q4>(t, dot_vnni);
}

}  // namespace sparq::kernels
