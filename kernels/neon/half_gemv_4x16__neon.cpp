// f16 and bf16 GEMV tiles of the neon level: 1 to 4 rows x 16 outputs.
#include "kernels/neon/half_gemm_template__neon.h"

namespace sparq::kernels {

void f16_gemv_4x16__neon(const HalfGemmTile& t) { half_gemv_neon<WidenF16x8>(t); }
void bf16_gemv_4x16__neon(const HalfGemmTile& t) { half_gemv_neon<WidenBf16x8>(t); }

}  // namespace sparq::kernels
