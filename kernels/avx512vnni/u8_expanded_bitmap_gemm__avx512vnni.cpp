// The prefill GEMMs on expanded bitmap rows with vpdpbusd (kernels/bitmap_gemm.h): 16 or 32
// X rows (one or two vectors of 16 lanes) x 8 weight rows, the weights + 128 as vpdpbusd's
// unsigned operand, X signed; d = Σ(w + 128)·x − 128·Σx per group, exact in int32 (|Σ| ≤
// 255 · 127 · group, within int32 for the groups up to 65,536 columns packing allows).
#include "kernels/avx2/expanded_bitmap_gemm_template__avx2.h"
#include "kernels/avx512/f32x16__avx512.h"

namespace sparq::kernels {
namespace {

struct U8DotAvx512vnni {
  using F = F32x16;
  using I = __m512i;
  using W = __m512i;
  static I zero() { return _mm512_setzero_si512(); }
  static I load_x(const int8_t* p) { return _mm512_load_si512(p); }
  static W weight(const uint8_t* p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
  }
  // In place by asm: from _mm512_dpbusd_epi32, GCC 12 copies every accumulator to a second
  // register and back each step (two vmovdqa per vpdpbusd), which cost about 10-20 % at
  // m = 128 (measured on the 32x4 tile).
  static I dot(I acc, W w, I x) {
    asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(w), "v"(x));
    return acc;
  }
  // The all-lanes masked forms: GCC 12's unmasked ones warn (see kernels/avx512/f32x16__avx512.h).
  static F::reg group_value(I dot, const int32_t* sums) {
    const I offset = _mm512_maskz_slli_epi32(F::kAll, _mm512_load_si512(sums), 7);
    return _mm512_mask_cvtepi32_ps(_mm512_setzero_ps(), F::kAll, _mm512_sub_epi32(dot, offset));
  }
};

}  // namespace

void u8_expanded_bitmap_gemm_16x8__avx512vnni(const BitmapExpandedGemmTile& t) {
  expanded_bitmap_gemm_x86<U8DotAvx512vnni, 8, 1>(t);
}
void u8_expanded_bitmap_gemm_32x8__avx512vnni(const BitmapExpandedGemmTile& t) {
  expanded_bitmap_gemm_x86<U8DotAvx512vnni, 8, 2>(t);
}

}  // namespace sparq::kernels
