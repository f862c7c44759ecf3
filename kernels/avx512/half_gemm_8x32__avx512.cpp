// f16 and bf16 GEMM tiles of the avx512 level: 8 rows x 32 outputs, the f32 kernel's tile
// (16 zmm accumulators) on 2-byte panels.
#include "kernels/avx512/half_gemm_template__avx512.h"

namespace sparq::kernels {

void f16_gemm_8x32__avx512(const HalfGemmTile& t) { half_gemm_avx512<WidenF16x16, 8, 1>(t); }
void bf16_gemm_8x32__avx512(const HalfGemmTile& t) { half_gemm_avx512<WidenBf16x16, 8, 1>(t); }

}  // namespace sparq::kernels
