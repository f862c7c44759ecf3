// The x86 bitmap kernels (kernels/bitmap_gemm.h), one template over the int8 dot product:
// AVX2's vpmaddubsw/vpmaddwd (avx2, avx512) or AVX-512 VNNI's vpdpbusd (avx512vnni, amx),
// and the prefill expansion over the same word expansions.
// Both multiply |w| (u8) by x with w's sign (s8): exact, as |w| ≤ 128 and |x| ≤ 127 keep
// vpmaddubsw's pair sums below its saturation. Each 32-column mask word is expanded to 32
// weight bytes by one vpshufb: the mask's 4 bytes pick 4 shuffle patterns of 8 columns from
// a 256-entry table, applied to the 4 runs of 8 stored values starting where the previous
// runs ended. Internal linkage: each level compiles its own copy with its own flags.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#include "kernels/bitmap_gemm.h"

namespace sparq::kernels {
namespace {

// For each 8-bit mask: the vpshufb pattern moving the next stored values to the set bits
// (0x80, a zero, elsewhere), and how many values the mask consumes.
struct BitmapExpandTable {
  std::array<uint64_t, 256> pattern;
  std::array<uint8_t, 256> count;
};
constexpr BitmapExpandTable make_bitmap_expand_table() {
  BitmapExpandTable t{};
  for (unsigned m = 0; m < 256; ++m) {
    uint64_t pattern = 0;
    unsigned count = 0;
    for (unsigned bit = 0; bit < 8; ++bit)
      pattern |= uint64_t{(m >> bit & 1) ? count++ : 0x80u} << (8 * bit);
    t.pattern[m] = pattern;
    t.count[m] = static_cast<uint8_t>(count);
  }
  return t;
}
constexpr BitmapExpandTable kBitmapExpand = make_bitmap_expand_table();

// How far ahead of the current entry the kernels prefetch the value stream, in bytes.
constexpr size_t kValuesPrefetch = 1024;

constexpr uint64_t kBytes(uint8_t b) { return 0x0101010101010101ull * b; }

inline long long load_u64(const uint8_t* p) {
  long long v;
  std::memcpy(&v, p, 8);
  return v;
}

// Where each 8-column run of a mask word starts in the value stream, and where the next
// word starts. Popcounts of the mask's prefixes, not a running sum, so the only chain
// from word to word is one add.
struct RunStarts {
  uint64_t p[4];
  unsigned b[4];
};
inline RunStarts run_starts(uint64_t& e, uint32_t mask) {
  RunStarts s;
  for (int j = 0; j < 4; ++j) {
    s.b[j] = mask >> (8 * j) & 0xff;
    s.p[j] = e + static_cast<unsigned>(std::popcount(mask & ((uint64_t{1} << (8 * j)) - 1)));
  }
  e += static_cast<unsigned>(std::popcount(mask));
  return s;
}

// q8: byte lane j of the result holds run j's pattern over the 8 bytes loaded at its start
// (vpshufb indexes within 128-bit lanes, so odd runs sit 8 bytes up).
inline __m256i expand_q8(const uint8_t* values, uint64_t& e, uint32_t mask) {
  const RunStarts s = run_starts(e, mask);
  const __m256i data = _mm256_set_epi64x(load_u64(values + s.p[3]), load_u64(values + s.p[2]),
                                         load_u64(values + s.p[1]), load_u64(values + s.p[0]));
  const auto& pat = kBitmapExpand.pattern;
  const __m256i control =
      _mm256_set_epi64x(pat[s.b[3]] + kBytes(8), pat[s.b[2]], pat[s.b[1]] + kBytes(8), pat[s.b[0]]);
  return _mm256_shuffle_epi8(data, control);
}

// q4: entry e is nibble e of the stream. Each run loads the 8 bytes holding its first entry,
// widened to 16 nibble values (minus 8) in order; an odd start skips the first.
inline __m256i expand_q4(const uint8_t* values, uint64_t& e, uint32_t mask) {
  const RunStarts s = run_starts(e, mask);
  const __m256i data =
      _mm256_set_epi64x(load_u64(values + s.p[3] / 2), load_u64(values + s.p[2] / 2),
                        load_u64(values + s.p[1] / 2), load_u64(values + s.p[0] / 2));
  const __m256i nibble = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(8);
  const __m256i lo = _mm256_and_si256(data, nibble);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(data, 4), nibble);
  // Per 128-bit lane: the even runs' 16 entries, and the odd runs'.
  const __m256i even = _mm256_sub_epi8(_mm256_unpacklo_epi8(lo, hi), eight);
  const __m256i odd = _mm256_sub_epi8(_mm256_unpackhi_epi8(lo, hi), eight);
  const auto& pat = kBitmapExpand.pattern;
  auto control = [&](int j) { return pat[s.b[j]] + kBytes(s.p[j] & 1); };
  const long long zero = static_cast<long long>(kBytes(0x80));
  const __m256i from_even = _mm256_shuffle_epi8(
      even, _mm256_set_epi64x(zero, control(2), zero, control(0)));
  const __m256i from_odd = _mm256_shuffle_epi8(
      odd, _mm256_set_epi64x(control(3), zero, control(1), zero));
  return _mm256_or_si256(from_even, from_odd);
}

// The 8 int32 lane sums of v[0..7], in order.
inline __m256i sum_lanes8(const __m256i* v) {
  const __m256i s01 = _mm256_hadd_epi32(v[0], v[1]), s23 = _mm256_hadd_epi32(v[2], v[3]);
  const __m256i s45 = _mm256_hadd_epi32(v[4], v[5]), s67 = _mm256_hadd_epi32(v[6], v[7]);
  const __m256i s0123 = _mm256_hadd_epi32(s01, s23), s4567 = _mm256_hadd_epi32(s45, s67);
  return _mm256_add_epi32(_mm256_permute2x128_si256(s0123, s4567, 0x20),
                          _mm256_permute2x128_si256(s0123, s4567, 0x31));
}

// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), the order kernels/bitmap_gemm.h fixes.
inline float sum_group_lanes(__m256 lanes) {
  const __m128 a = _mm_add_ps(_mm256_castps256_ps128(lanes), _mm256_extractf128_ps(lanes, 1));
  const __m128 b = _mm_add_ps(a, _mm_movehl_ps(a, a));
  return _mm_cvtss_f32(_mm_add_ss(b, _mm_movehdup_ps(b)));
}

// Dot: __m256i (acc, |w| as u8, x with w's sign) -> acc + Σ per int32 lane.
template <size_t MR, class Dot, __m256i (*Expand)(const uint8_t*, uint64_t&, uint32_t)>
void bitmap_gemm_rows(const BitmapGemmTile& t, Dot dot) {
  const int8_t* x[MR];
  for (size_t i = 0; i < MR; ++i) x[i] = t.x + std::min(i, t.mr - 1) * t.x_stride;
  const size_t lanes = kBitmapGroupLanes;
  alignas(32) float block_scales[kBitmapGroupLanes];
  for (size_t r = 0; r < t.rows; ++r) {
    const uint32_t* masks = t.masks + r * t.words_per_row;
    const float* scales = t.scales + r * t.groups;
    uint64_t e = t.first[r];
    __m256 acc[MR];
    for (size_t i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
    for (size_t g0 = 0; g0 < t.groups; g0 += lanes) {
      const size_t g_end = std::min(t.groups, g0 + lanes);
      // The value stream advances by a data-dependent stride the hardware prefetcher follows
      // late; ask for what the next blocks will read.
      _mm_prefetch(reinterpret_cast<const char*>(t.values + e + kValuesPrefetch), _MM_HINT_T0);
      __m256i d[MR][kBitmapGroupLanes];
      for (size_t g = g0; g < g0 + lanes; ++g) {
        __m256i sum[MR];
        for (size_t i = 0; i < MR; ++i) sum[i] = _mm256_setzero_si256();
        const size_t w_end = std::min(t.words_per_row, (g + 1) * t.words_per_group);
        for (size_t w = g * t.words_per_group; w < w_end; ++w) {
          const __m256i wq = Expand(t.values, e, masks[w]);
          const __m256i magnitude = _mm256_abs_epi8(wq);
          for (size_t i = 0; i < MR; ++i) {
            const __m256i xv = _mm256_loadu_si256(
                reinterpret_cast<const __m256i*>(x[i] + w * kBitmapWordColumns));
            sum[i] = dot(sum[i], magnitude, _mm256_sign_epi8(xv, wq));
          }
        }
        for (size_t i = 0; i < MR; ++i) d[i][g - g0] = sum[i];
      }
      // Groups past the last pad with scale 0 (and d = 0), which leaves the lanes unchanged.
      for (size_t l = 0; l < lanes; ++l) block_scales[l] = g0 + l < g_end ? scales[g0 + l] : 0.0f;
      const __m256 s = _mm256_load_ps(block_scales);
      for (size_t i = 0; i < MR; ++i)
        acc[i] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(sum_lanes8(d[i])), acc[i]);
    }
    for (size_t i = 0; i < t.mr; ++i)
      t.y[i * t.y_stride + r] =
          std::fma(t.x_scale[i], sum_group_lanes(acc[i]), t.bias ? t.bias[r] : 0.0f);
  }
}

template <__m256i (*Expand)(const uint8_t*, uint64_t&, uint32_t), class Dot>
void bitmap_gemm_x86(const BitmapGemmTile& t, Dot dot) {
  switch (t.mr) {
    case 1: bitmap_gemm_rows<1, Dot, Expand>(t, dot); break;
    case 2: bitmap_gemm_rows<2, Dot, Expand>(t, dot); break;
    case 3: bitmap_gemm_rows<3, Dot, Expand>(t, dot); break;
    default: bitmap_gemm_rows<4, Dot, Expand>(t, dot); break;
  }
}

// The prefill expansion (BitmapExpandTile): every word of every row through Expand, stored
// as signed bytes or, for vpdpbusd's unsigned operand, + 128 (the sign bit flipped).
template <__m256i (*Expand)(const uint8_t*, uint64_t&, uint32_t), bool kPlus128>
void bitmap_expand_rows_x86(const BitmapExpandTile& t) {
  const __m256i flip = _mm256_set1_epi8(kPlus128 ? static_cast<char>(0x80) : 0);
  // Locals: the stores through uint8_t* would otherwise reload t's fields every word.
  const uint8_t* values = t.values;
  const size_t words = t.words_per_row;
  for (size_t r = 0; r < t.rows; ++r) {
    const uint32_t* masks = t.masks + r * words;
    uint8_t* out = t.w + r * t.w_stride;
    uint64_t e = t.first[r];
    for (size_t w = 0; w < words; ++w) {
      if (w % 8 == 0)  // as bitmap_gemm_rows: ahead of the data-dependent value stream
        _mm_prefetch(reinterpret_cast<const char*>(values + e + kValuesPrefetch), _MM_HINT_T0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + w * kBitmapWordColumns),
                          _mm256_xor_si256(Expand(values, e, masks[w]), flip));
    }
  }
}

}  // namespace
}  // namespace sparq::kernels
