#include "kernels/amx/q8_gemm_32x32_template__amx.h"

namespace sparq::kernels {

void q8_gemm_32x32__amx_emulated(const QGemmTile& t) { amx::q8_gemm_32x32<amx::EmulatedTiles>(t); }

}  // namespace sparq::kernels
