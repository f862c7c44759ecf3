// q8 and q4 GEMM with dotprod (kernels/neon/q_gemm_4x16_template__neon.h): one sdot forms
// the 4-column dot products of 4 outputs.
#include "kernels/neon/q_gemm_4x16_template__neon.h"

namespace sparq::kernels {

void q8_gemm_4x16__neon_dotprod(const QGemmTile& t) { q_gemm_4x16_neon<SdotAccumulator, false>(t); }
void q4_gemm_4x16__neon_dotprod(const QGemmTile& t) { q_gemm_4x16_neon<SdotAccumulator, true>(t); }

}  // namespace sparq::kernels
