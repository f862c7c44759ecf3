// Peak int8 throughput on NEON alone: smull (8 s8 x s8 -> i16) then sadalp (pairwise add
// into i32), the int8 GEMM sequence before dotprod. Written in asm because the product of
// constant inputs would otherwise be hoisted out of the loop.
#include <arm_neon.h>

#include "kernels/peak_loops.h"

namespace sparq::kernels {

PeakRun int8_dot_peak_loop__neon(uint64_t iterations) {
  constexpr int kChains = 12;
  const int8x8_t ones = vdup_n_s8(1);
  int32x4_t acc[kChains];
  for (auto& a : acc) a = vdupq_n_s32(0);
  run_peak_chains(iterations, acc, [&](int32x4_t a) {
    int16x8_t t;
    __asm__(
        "smull %[t].8h, %[x].8b, %[x].8b\n\t"
        "sadalp %[acc].4s, %[t].8h"
        : [acc] "+w"(a), [t] "=&w"(t)
        : [x] "w"(ones));
    return a;
  });
  double checksum = 0;
  for (auto& a : acc) checksum += vaddvq_s32(a);
  return {2.0 * 8 * kChains * static_cast<double>(iterations), checksum};
}

}  // namespace sparq::kernels
