// VBMI2's vpexpandb as the bitmap kernels' word expansion (kernels/bitmap_gemm.h): one
// instruction puts a word's stored values at its mask's set bits, where the table-and-vpshufb
// expansion of kernels/avx2/bitmap_gemm_template__avx2.h takes about 20. Shared by the 4x1
// kernels and the prefill expansion of this folder. Internal linkage, as that template.
#pragma once

#include <immintrin.h>

#include <bit>
#include <cstdint>
#include <cstring>

namespace sparq::kernels {
namespace {

inline __m256i expand_q8_vbmi2(const uint8_t* values, uint64_t& e, uint32_t mask) {
  const __m256i stored = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(values + e));
  e += static_cast<unsigned>(std::popcount(mask));
  return _mm256_maskz_expand_epi8(mask, stored);
}

// The 32 bytes holding entries e.. are widened to 64 values (minus 8), one per byte, in
// entry order; an odd e drops the first, so the word's up to 32 entries come first.
inline __m256i expand_q4_vbmi2(const uint8_t* values, uint64_t& e, uint32_t mask) {
  const __m512i bytes = _mm512_cvtepu8_epi16(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(values + e / 2)));
  // Per 16-bit lane b: (b | b << 4) & 0x0f0f = low nibble, then high nibble.
  const __m512i nibbles = _mm512_ternarylogic_epi32(bytes, _mm512_slli_epi16(bytes, 4),
                                                    _mm512_set1_epi16(0x0f0f), 0xa8);
  const __m512i entries = _mm512_maskz_compress_epi8(~uint64_t{0} << (e & 1),
                                                     _mm512_sub_epi8(nibbles, _mm512_set1_epi8(8)));
  e += static_cast<unsigned>(std::popcount(mask));
  // The low half, without GCC 12's _mm512_castsi512_si256 (a spurious -Wmaybe-uninitialized).
  __m256i low;
  std::memcpy(&low, &entries, sizeof(low));
  return _mm256_maskz_expand_epi8(mask, low);
}

}  // namespace
}  // namespace sparq::kernels
