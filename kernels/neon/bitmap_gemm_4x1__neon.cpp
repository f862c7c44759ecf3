// Bitmap q8/q4 GEMV and small GEMM for plain NEON (kernels/neon/bitmap_gemm_template__neon.h):
// tbl expansion, smull + smlal2 into 16-bit pairs, sadalp into int32.
#include "kernels/neon/bitmap_gemm_template__neon.h"

namespace sparq::kernels {

void q8_bitmap_gemm_4x1__neon(const BitmapGemmTile& t) { bitmap_gemm_neon<WideningDot, expand_q8>(t); }
void q4_bitmap_gemm_4x1__neon(const BitmapGemmTile& t) { bitmap_gemm_neon<WideningDot, expand_q4>(t); }

}  // namespace sparq::kernels
