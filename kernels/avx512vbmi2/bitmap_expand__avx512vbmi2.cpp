// The prefill expansion (kernels/bitmap_gemm.h) with VBMI2's vpexpandb, + 128 as u8 for
// the avx512vnni expanded GEMM (the VNNI and AMX configs take it when the CPU has VBMI2).
#include "kernels/avx2/bitmap_gemm_template__avx2.h"
#include "kernels/avx512vbmi2/bitmap_word_expand__avx512vbmi2.h"

namespace sparq::kernels {

void q8_bitmap_expand_u8__avx512vbmi2(const BitmapExpandTile& t) {
  bitmap_expand_rows_x86<expand_q8_vbmi2, true>(t);
}
void q4_bitmap_expand_u8__avx512vbmi2(const BitmapExpandTile& t) {
  bitmap_expand_rows_x86<expand_q4_vbmi2, true>(t);
}

}  // namespace sparq::kernels
