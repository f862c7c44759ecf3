// The prefill GEMMs on expanded bitmap rows for plain NEON (kernels/bitmap_gemm.h,
// kernels/neon/expanded_bitmap_gemm_template__neon.h): 8 or 16 X rows (two or four vectors
// of 4 lanes) x 2 weight rows, by smull + smlal into 16-bit pairs and sadalp. Two weight
// rows, not four: each holds its 4 steps broadcast in 4 registers.
#include "kernels/neon/expanded_bitmap_gemm_template__neon.h"

namespace sparq::kernels {

void s8_expanded_bitmap_gemm_8x2__neon(const BitmapExpandedGemmTile& t) {
  expanded_bitmap_gemm_neon<WideningExpandedDot, 2, 2>(t);
}
void s8_expanded_bitmap_gemm_16x2__neon(const BitmapExpandedGemmTile& t) {
  expanded_bitmap_gemm_neon<WideningExpandedDot, 2, 4>(t);
}

}  // namespace sparq::kernels
