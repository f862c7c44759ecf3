// Peak int8 throughput with i8mm: smmla multiplies a 2x8 by an 8x2 s8 block into a 2x2 i32
// block, 32 multiply-adds per instruction, twice sdot's work.
#include <arm_neon.h>

#include "kernels/peak_loops.h"

namespace sparq::kernels {

PeakRun int8_dot_peak_loop__neon_i8mm(uint64_t iterations) {
  constexpr int kChains = 16;
  const int8x16_t ones = vdupq_n_s8(1);
  int32x4_t acc[kChains];
  for (auto& a : acc) a = vdupq_n_s32(0);
  run_peak_chains(iterations, acc, [&](int32x4_t a) { return vmmlaq_s32(a, ones, ones); });
  double checksum = 0;
  for (auto& a : acc) checksum += vaddvq_s32(a);
  return {2.0 * 32 * kChains * static_cast<double>(iterations), checksum};
}

}  // namespace sparq::kernels
