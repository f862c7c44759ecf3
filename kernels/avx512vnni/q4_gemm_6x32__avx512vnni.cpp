// q4 GEMM tile of the avx512vnni level: 6 rows x 32 outputs.
#include "kernels/avx512vnni/q_gemm_template__avx512vnni.h"

namespace sparq::kernels {

void q4_gemm_6x32__avx512vnni(const QGemmTile& t) { q_gemm_avx512vnni<6, 2, true>(t); }

}  // namespace sparq::kernels
