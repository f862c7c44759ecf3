// The prefill expansion (kernels/bitmap_gemm.h) by table and vpshufb, as signed bytes for
// the avx2 expanded GEMM (the avx2 and avx512 configs).
#include "kernels/avx2/bitmap_gemm_template__avx2.h"

namespace sparq::kernels {

void q8_bitmap_expand_s8__avx2(const BitmapExpandTile& t) {
  bitmap_expand_rows_x86<expand_q8, false>(t);
}
void q4_bitmap_expand_s8__avx2(const BitmapExpandTile& t) {
  bitmap_expand_rows_x86<expand_q4, false>(t);
}

}  // namespace sparq::kernels
