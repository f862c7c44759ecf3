// Peak f32 throughput with 512-bit FMAs: 16 chains cover 2 FMA ports x 4-8 cycles latency
// (Zen 4 issues a zmm FMA as two 256-bit halves).
#include <immintrin.h>

#include "kernels/peak_loops.h"

namespace sparq::kernels {

PeakRun f32_fma_peak_loop__avx512(uint64_t iterations) {
  constexpr int kChains = 16;
  __m512 one = _mm512_set1_ps(1.0f), addend = _mm512_set1_ps(kPeakF32Addend);
  __asm__("" : "+v"(one));  // hide the 1 so acc * 1 + c stays an FMA
  __m512 acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_ps();
  run_peak_chains(iterations, acc, [&](__m512 a) { return _mm512_fmadd_ps(a, one, addend); });
  alignas(64) float lanes[16];
  double checksum = 0;
  for (auto& a : acc) {
    _mm512_store_ps(lanes, a);
    for (float v : lanes) checksum += v;
  }
  return {2.0 * 16 * kChains * static_cast<double>(iterations), checksum};
}

}  // namespace sparq::kernels
