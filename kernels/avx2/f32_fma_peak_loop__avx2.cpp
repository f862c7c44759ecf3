// Peak f32 throughput with 256-bit FMAs: 12 chains cover 2 FMA ports x 4-5 cycles latency.
#include <immintrin.h>

#include "kernels/peak_loops.h"

namespace sparq::kernels {

PeakRun f32_fma_peak_loop__avx2(uint64_t iterations) {
  constexpr int kChains = 12;
  __m256 one = _mm256_set1_ps(1.0f), addend = _mm256_set1_ps(kPeakF32Addend);
  __asm__("" : "+x"(one));  // hide the 1 so acc * 1 + c stays an FMA
  __m256 acc[kChains];
  for (auto& a : acc) a = _mm256_setzero_ps();
  run_peak_chains(iterations, acc, [&](__m256 a) { return _mm256_fmadd_ps(a, one, addend); });
  alignas(32) float lanes[8];
  double checksum = 0;
  for (auto& a : acc) {
    _mm256_store_ps(lanes, a);
    for (float v : lanes) checksum += v;
  }
  return {2.0 * 8 * kChains * static_cast<double>(iterations), checksum};
}

}  // namespace sparq::kernels
