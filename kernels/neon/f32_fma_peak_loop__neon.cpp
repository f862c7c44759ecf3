// Peak f32 throughput with 128-bit NEON FMAs: 16 chains cover up to 4 FMA pipes x 4 cycles.
#include <arm_neon.h>

#include "kernels/peak_loops.h"

namespace sparq::kernels {

PeakRun f32_fma_peak_loop__neon(uint64_t iterations) {
  constexpr int kChains = 16;
  float32x4_t one = vdupq_n_f32(1.0f), addend = vdupq_n_f32(kPeakF32Addend);
  __asm__("" : "+w"(one));  // hide the 1 so acc + c * 1 stays an FMA
  float32x4_t acc[kChains];
  for (auto& a : acc) a = vdupq_n_f32(0.0f);
  run_peak_chains(iterations, acc, [&](float32x4_t a) { return vfmaq_f32(a, addend, one); });
  double checksum = 0;
  for (auto& a : acc) checksum += vaddvq_f32(a);
  return {2.0 * 4 * kChains * static_cast<double>(iterations), checksum};
}

}  // namespace sparq::kernels
