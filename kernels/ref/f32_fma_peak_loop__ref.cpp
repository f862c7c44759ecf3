// Portable scalar f32 peak loop: what a CPU without a supported SIMD level can do.
#include "kernels/peak_loops.h"

namespace sparq::kernels {
namespace {
constexpr int kChains = 8;
}

PeakRun f32_fma_peak_loop__ref(uint64_t iterations) {
  float one = 1.0f, addend = kPeakF32Addend;
  // Hide the constants so the compiler cannot fold acc * 1 into acc.
  __asm__("" : "+r"(one), "+r"(addend));
  float acc[kChains] = {};
  run_peak_chains(iterations, acc, [&](float a) { return a * one + addend; });
  double checksum = 0;
  for (float a : acc) checksum += a;
  return {2.0 * kChains * static_cast<double>(iterations), checksum};
}

}  // namespace sparq::kernels
