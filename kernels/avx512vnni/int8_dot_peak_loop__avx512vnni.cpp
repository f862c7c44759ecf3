// Peak int8 throughput with VNNI: vpdpbusd does 64 u8 x s8 multiply-adds into 16 i32 lanes
// per zmm; 16 chains cover its 2 ports x ~5 cycles latency.
#include <immintrin.h>

#include "kernels/peak_loops.h"

namespace sparq::kernels {

PeakRun int8_dot_peak_loop__avx512vnni(uint64_t iterations) {
  constexpr int kChains = 16;
  const __m512i u8_ones = _mm512_set1_epi8(1), s8_ones = _mm512_set1_epi8(1);
  __m512i acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_si512();
  run_peak_chains(iterations, acc, [&](__m512i a) { return _mm512_dpbusd_epi32(a, u8_ones, s8_ones); });
  alignas(64) int32_t lanes[16];
  double checksum = 0;
  for (auto& a : acc) {
    _mm512_store_si512(lanes, a);
    for (int32_t v : lanes) checksum += v;
  }
  return {2.0 * 64 * kChains * static_cast<double>(iterations), checksum};
}

}  // namespace sparq::kernels
