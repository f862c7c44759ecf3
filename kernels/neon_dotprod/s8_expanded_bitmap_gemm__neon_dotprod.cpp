// The prefill GEMMs on expanded bitmap rows with dotprod (kernels/bitmap_gemm.h,
// kernels/neon/expanded_bitmap_gemm_template__neon.h): 8 or 16 X rows (two or four vectors
// of 4 lanes) x 4 weight rows, one sdot by element per step of 4 columns.
#include "kernels/neon/expanded_bitmap_gemm_template__neon.h"

namespace sparq::kernels {

void s8_expanded_bitmap_gemm_8x4__neon_dotprod(const BitmapExpandedGemmTile& t) {
  expanded_bitmap_gemm_neon<SdotExpandedDot, 4, 2>(t);
}
void s8_expanded_bitmap_gemm_16x4__neon_dotprod(const BitmapExpandedGemmTile& t) {
  expanded_bitmap_gemm_neon<SdotExpandedDot, 4, 4>(t);
}

}  // namespace sparq::kernels
