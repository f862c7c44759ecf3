// q8 and q4 GEMM for plain NEON (kernels/neon/q_gemm_4x16_template__neon.h): 4-column dot
// products by smull/smull2 into 16-bit products, gathered pairwise into int32 by sadalp.
#include "kernels/neon/q_gemm_4x16_template__neon.h"

namespace sparq::kernels {

void q8_gemm_4x16__neon(const QGemmTile& t) { q_gemm_4x16_neon<WideningAccumulator, false>(t); }
void q4_gemm_4x16__neon(const QGemmTile& t) { q_gemm_4x16_neon<WideningAccumulator, true>(t); }

}  // namespace sparq::kernels
