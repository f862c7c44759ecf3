// q8 and q4 GEMM for plain NEON (kernels/neon/q_gemm_4x16_neon.h): 4-column dot products
// by smull/smull2 into 16-bit products, gathered pairwise into int32 by sadalp.
#include <arm_neon.h>

#include "kernels/neon/q_gemm_4x16_neon.h"

namespace sparq::kernels {
namespace {

struct WideningAccumulator {
  int32x4_t low = vdupq_n_s32(0), high = vdupq_n_s32(0);
  void add(int8x16_t w, int8x16_t x) {
    low = vpadalq_s16(low, vmull_s8(vget_low_s8(w), vget_low_s8(x)));
    high = vpadalq_s16(high, vmull_high_s8(w, x));
  }
  int32x4_t total() const { return vpaddq_s32(low, high); }
};

}  // namespace

void q8_gemm_4x16__neon(const QGemmTile& t) { q_gemm_4x16_neon<WideningAccumulator, false>(t); }
void q4_gemm_4x16__neon(const QGemmTile& t) { q_gemm_4x16_neon<WideningAccumulator, true>(t); }

}  // namespace sparq::kernels
