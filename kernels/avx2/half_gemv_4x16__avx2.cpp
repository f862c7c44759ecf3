// f16 and bf16 GEMV tiles of the avx2 level: 1 to 4 rows x 16 outputs.
#include "kernels/avx2/half_gemm_template__avx2.h"

namespace sparq::kernels {

void f16_gemv_4x16__avx2(const HalfGemmTile& t) { half_gemv_avx2<WidenF16x8>(t); }
void bf16_gemv_4x16__avx2(const HalfGemmTile& t) { half_gemv_avx2<WidenBf16x8>(t); }

}  // namespace sparq::kernels
