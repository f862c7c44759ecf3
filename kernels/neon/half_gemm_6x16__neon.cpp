// f16 and bf16 GEMM tiles of the neon level: 6 rows x 16 outputs, the f32 kernel's tile
// (24 q accumulators) on 2-byte panels.
#include "kernels/neon/half_gemm_template__neon.h"

namespace sparq::kernels {

void f16_gemm_6x16__neon(const HalfGemmTile& t) { half_gemm_neon<WidenF16x8, 6, 1>(t); }
void bf16_gemm_6x16__neon(const HalfGemmTile& t) { half_gemm_neon<WidenBf16x8, 6, 1>(t); }

}  // namespace sparq::kernels
