// Portable scalar int8 peak loop: what a CPU without a supported SIMD level can do.
#include "kernels/peak_loops.h"

namespace sparq::kernels {
namespace {
constexpr int kChains = 8;
}

PeakRun int8_dot_peak_loop__ref(uint64_t iterations) {
  int32_t a = 1, b = 1;
  __asm__("" : "+r"(a), "+r"(b));
  int32_t acc[kChains] = {};
  run_peak_chains(iterations, acc, [&](int32_t s) {
    int8_t x = static_cast<int8_t>(a), y = static_cast<int8_t>(b);
    __asm__("" : "+r"(x));  // a fresh product every step, not one hoisted out of the loop
    return s + int32_t{x} * int32_t{y};
  });
  double checksum = 0;
  for (int32_t s : acc) checksum += s;
  return {2.0 * kChains * static_cast<double>(iterations), checksum};
}

}  // namespace sparq::kernels
