// f16 and bf16 GEMM tiles of the avx2 level: 6 rows x 16 outputs, the f32 kernel's tile
// (12 ymm accumulators) on 2-byte panels.
#include "kernels/avx2/half_gemm_template__avx2.h"

namespace sparq::kernels {

void f16_gemm_6x16__avx2(const HalfGemmTile& t) { half_gemm_avx2<WidenF16x8, 6, 1>(t); }
void bf16_gemm_6x16__avx2(const HalfGemmTile& t) { half_gemm_avx2<WidenBf16x8, 6, 1>(t); }

}  // namespace sparq::kernels
