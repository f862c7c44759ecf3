// Peak int8 throughput on AVX-512 without VNNI (Skylake-X): vpmaddubsw + vpmaddwd + vpaddd
// on zmm. Written in asm because the product of constant inputs would otherwise be hoisted.
#include <immintrin.h>

#include "kernels/peak_loops.h"

namespace sparq::kernels {

PeakRun int8_dot_peak_loop__avx512(uint64_t iterations) {
  constexpr int kChains = 12;
  const __m512i u8_ones = _mm512_set1_epi8(1), s8_ones = _mm512_set1_epi8(1);
  const __m512i i16_ones = _mm512_set1_epi16(1);
  __m512i acc[kChains];
  for (auto& a : acc) a = _mm512_setzero_si512();
  run_peak_chains(iterations, acc, [&](__m512i a) {
    __m512i t;
    __asm__(
        "vpmaddubsw %[s8], %[u8], %[t]\n\t"
        "vpmaddwd %[i16], %[t], %[t]\n\t"
        "vpaddd %[t], %[acc], %[acc]"
        : [acc] "+v"(a), [t] "=&v"(t)
        : [u8] "v"(u8_ones), [s8] "v"(s8_ones), [i16] "v"(i16_ones));
    return a;
  });
  alignas(64) int32_t lanes[16];
  double checksum = 0;
  for (auto& a : acc) {
    _mm512_store_si512(lanes, a);
    for (int32_t v : lanes) checksum += v;
  }
  return {2.0 * 64 * kChains * static_cast<double>(iterations), checksum};
}

}  // namespace sparq::kernels
