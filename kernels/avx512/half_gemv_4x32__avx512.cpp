// f16 and bf16 GEMV tiles of the avx512 level: 1 to 4 rows x 32 outputs.
#include "kernels/avx512/half_gemm_template__avx512.h"

namespace sparq::kernels {

void f16_gemv_4x32__avx512(const HalfGemmTile& t) { half_gemv_avx512<WidenF16x16>(t); }
void bf16_gemv_4x32__avx512(const HalfGemmTile& t) { half_gemv_avx512<WidenBf16x16>(t); }

}  // namespace sparq::kernels
