// q8 GEMM tile of the avx512vnni level: 8 rows x 32 outputs.
#include "kernels/avx512vnni/q_gemm_template__avx512vnni.h"

namespace sparq::kernels {

void q8_gemm_8x32__avx512vnni(const QGemmTile& t) { q_gemm_avx512vnni<8, 2, false>(t); }

}  // namespace sparq::kernels
