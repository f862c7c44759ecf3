// q8 and q4 GEMV tiles of the avx512vnni level: up to 4 rows x 32 outputs.
#include "kernels/avx512vnni/q_gemm_template__avx512vnni.h"

namespace sparq::kernels {

void q8_gemm_4x32__avx512vnni(const QGemmTile& t) { q_gemv_avx512vnni<false>(t); }
void q4_gemm_4x32__avx512vnni(const QGemmTile& t) { q_gemv_avx512vnni<true>(t); }

}  // namespace sparq::kernels
