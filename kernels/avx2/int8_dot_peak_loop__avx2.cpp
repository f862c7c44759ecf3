// Peak int8 throughput without VNNI: vpmaddubsw (u8 x s8 -> pairs of i16) then vpmaddwd
// against ones (-> i32) then vpaddd, the sequence int8 GEMMs use on AVX2. Written in asm
// because the product of constant inputs would otherwise be hoisted out of the loop.
#include <immintrin.h>

#include "kernels/peak_loops.h"

namespace sparq::kernels {

PeakRun int8_dot_peak_loop__avx2(uint64_t iterations) {
  constexpr int kChains = 8;
  const __m256i u8_ones = _mm256_set1_epi8(1), s8_ones = _mm256_set1_epi8(1);
  const __m256i i16_ones = _mm256_set1_epi16(1);
  __m256i acc[kChains];
  for (auto& a : acc) a = _mm256_setzero_si256();
  run_peak_chains(iterations, acc, [&](__m256i a) {
    __m256i t;
    __asm__(
        "vpmaddubsw %[s8], %[u8], %[t]\n\t"
        "vpmaddwd %[i16], %[t], %[t]\n\t"
        "vpaddd %[t], %[acc], %[acc]"
        : [acc] "+x"(a), [t] "=&x"(t)
        : [u8] "x"(u8_ones), [s8] "x"(s8_ones), [i16] "x"(i16_ones));
    return a;
  });
  alignas(32) int32_t lanes[8];
  double checksum = 0;
  for (auto& a : acc) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
    for (int32_t v : lanes) checksum += v;
  }
  return {2.0 * 32 * kChains * static_cast<double>(iterations), checksum};
}

}  // namespace sparq::kernels
