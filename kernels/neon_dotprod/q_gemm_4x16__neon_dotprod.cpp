// q8 and q4 GEMM with dotprod (kernels/neon/q_gemm_4x16_neon.h): one sdot forms the
// 4-column dot products of 4 outputs.
#include <arm_neon.h>

#include "kernels/neon/q_gemm_4x16_neon.h"

namespace sparq::kernels {
namespace {

struct SdotAccumulator {
  int32x4_t sum = vdupq_n_s32(0);
  void add(int8x16_t w, int8x16_t x) { sum = vdotq_s32(sum, w, x); }
  int32x4_t total() const { return sum; }
};

}  // namespace

void q8_gemm_4x16__neon_dotprod(const QGemmTile& t) { q_gemm_4x16_neon<SdotAccumulator, false>(t); }
void q4_gemm_4x16__neon_dotprod(const QGemmTile& t) { q_gemm_4x16_neon<SdotAccumulator, true>(t); }

}  // namespace sparq::kernels
