// Bitmap q8/q4 GEMV and small GEMM with dotprod (kernels/neon/bitmap_gemm_template__neon.h):
// tbl expansion, one sdot per 16 columns of a row.
#include "kernels/neon/bitmap_gemm_template__neon.h"

namespace sparq::kernels {

void q8_bitmap_gemm_4x1__neon_dotprod(const BitmapGemmTile& t) {
  bitmap_gemm_neon<SdotDot, expand_q8>(t);
}
void q4_bitmap_gemm_4x1__neon_dotprod(const BitmapGemmTile& t) {
  bitmap_gemm_neon<SdotDot, expand_q4>(t);
}

}  // namespace sparq::kernels
