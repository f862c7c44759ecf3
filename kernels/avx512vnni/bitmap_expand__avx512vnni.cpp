// The prefill expansion (kernels/bitmap_gemm.h) by table and vpshufb, + 128 as u8 for the
// avx512vnni expanded GEMM (the VNNI and AMX configs on CPUs without VBMI2).
#include "kernels/avx2/bitmap_gemm_template__avx2.h"

namespace sparq::kernels {

void q8_bitmap_expand_u8__avx512vnni(const BitmapExpandTile& t) {
  bitmap_expand_rows_x86<expand_q8, true>(t);
}
void q4_bitmap_expand_u8__avx512vnni(const BitmapExpandTile& t) {
  bitmap_expand_rows_x86<expand_q4, true>(t);
}

}  // namespace sparq::kernels
