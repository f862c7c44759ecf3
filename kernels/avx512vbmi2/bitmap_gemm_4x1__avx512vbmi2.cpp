// Bitmap q8/q4 GEMV and small GEMM (the decode path of kernels/bitmap_gemm.h) on 512-bit
// vectors, 64 columns (two mask words) per step: one vpexpandb puts the step's stored codes
// at its mask's set bits, and one vpdpbusd per X row takes the dot product.
//
// vpdpbusd multiplies an unsigned operand by a signed one. The expanded codes are made the
// unsigned one by an offset: q8 code + 128 (the sign bit flipped), q4 the nibble itself
// (code + 8), with the offset (128 or 8) where nothing is stored. Over a group,
// Σ operand · x = d + offset · Σx, and Σx per group is the activation's group sum that
// quantize_row already gives: subtracting it leaves d exactly (int32 throughout: at most
// 65536 · 255 · 127 < 2³¹). This is two instructions fewer per step than |w| and x with
// w's sign (the 256-bit template, kernels/avx2/bitmap_gemm_template__avx2.h).
//
// Eight groups make a block. Each group's int32 lanes are folded into 8 and paired into a
// register (with groups of 32 a step is already such a pair), and four pairs are reduced
// together to the eight group sums, which land in lanes 4i (group i) and 4i + 2 (group
// i + 4) of one register; the scales are permuted to match, so one fma per block adds the
// eight groups to the header's eight lanes. Groups of 32 or multiples of 64 (or one group
// per row) take this path; any other group splits steps and goes to the template.
#include "kernels/avx2/bitmap_gemm_template__avx2.h"
#include "kernels/aligned_array.h"
#include "kernels/avx512vbmi2/bitmap_word_expand__avx512vbmi2.h"

// GCC 12 reports the _mm512_undefined_* passthrough operands inside its own AVX-512
// intrinsics (shuffles, casts, masked loads) as maybe-uninitialized once they are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace sparq::kernels {
namespace {

constexpr size_t kStepWords = 2;
constexpr size_t kBlockGroups = kBitmapGroupLanes;

// Constants as arrays loaded where used: a namespace-scope __m512i would be built by a
// static initializer, which runs on CPUs without AVX-512 too.
alignas(64) constexpr int32_t kWindowDwords[16] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8};
// Byte j: 4j, or 4j + 4 from an odd entry.
constexpr long long kNibbleShifts[2] = {0x1c1814100c080400ll, 0x201c1814100c0804ll};
alignas(64) constexpr int32_t kBlockLanes[16] = {0, 0, 4, 4, 1, 1, 5, 5, 2, 2, 6, 6, 3, 3, 7, 7};

// q8: entries e.. are bytes; the operand is code ^ 0x80 (= code + 128), 0x80 where unset.
struct Q8Codes {
  static constexpr int32_t kOffset = 128;
  static __m512i expand(const uint8_t* values, uint64_t e, uint64_t mask) {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    return _mm512_mask_expand_epi8(flip, mask, _mm512_xor_si512(_mm512_loadu_si512(values + e), flip));
  }
};

// q4: entry e is nibble e of the stream. Qword q of `windows` is stream bytes 4q..4q+7 from
// byte e/2 (vpermd), and vpmultishiftqb takes byte j of it from bit 4(j + e%2): nibble
// e + 8q + j in the low four bits. Unset columns get 8 (code 0).
struct Q4Codes {
  static constexpr int32_t kOffset = 8;
  static __m512i expand(const uint8_t* values, uint64_t e, uint64_t mask) {
    const __m512i bytes = _mm512_loadu_si512(values + e / 2);
    const __m512i windows = _mm512_permutexvar_epi32(_mm512_load_si512(kWindowDwords), bytes);
    const __m512i shifts = _mm512_set1_epi64(kNibbleShifts[e & 1]);
    const __m512i nibbles = _mm512_and_si512(_mm512_multishift_epi64_epi8(shifts, windows),
                                             _mm512_set1_epi8(0x0f));
    return _mm512_mask_expand_epi8(_mm512_set1_epi8(8), mask, nibbles);
  }
};

// The 8 int32 lanes of each half summed with the other's: a group's 16 lanes in the low
// half of a pair.
inline __m256i fold(__m512i v) {
  return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

// Four pairs (groups 2p, 2p + 1 of a block in lanes 0-7, 8-15) to the eight group sums:
// group i in lane 4i and 4i + 1, group i + 4 in lanes 4i + 2 and 4i + 3.
inline __m512i reduce_block(__m512i p0, __m512i p1, __m512i p2, __m512i p3) {
  const __m512i s01 = _mm512_add_epi32(_mm512_shuffle_i32x4(p0, p1, 0x88),
                                       _mm512_shuffle_i32x4(p0, p1, 0xdd));
  const __m512i s23 = _mm512_add_epi32(_mm512_shuffle_i32x4(p2, p3, 0x88),
                                       _mm512_shuffle_i32x4(p2, p3, 0xdd));
  const __m512i x = _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23),
                                     _mm512_unpackhi_epi64(s01, s23));
  return _mm512_add_epi32(x, _mm512_shuffle_epi32(x, _MM_PERM_CDAB));
}

// acc[i] + the step of mask `mask` at word w against X row i; e moves past its entries.
template <size_t MR, class Codes>
inline void step(const int8_t* const* x, const uint8_t* values, uint64_t& e, uint64_t mask,
                 size_t w, __m512i* acc) {
  const __m512i codes = Codes::expand(values, e, mask);
  e += static_cast<unsigned>(std::popcount(mask));
  for (size_t i = 0; i < MR; ++i)
    acc[i] = _mm512_dpbusd_epi32(acc[i], codes, _mm512_loadu_si512(x[i] + w * kBitmapWordColumns));
}

template <size_t MR>
struct Pair {
  __m512i v[MR];
};

inline uint64_t mask_pair(const uint32_t* masks, size_t w) {
  uint64_t m;
  std::memcpy(&m, masks + w, 8);
  return m;
}

// The mask of the 1 or 2 words from w below w_end.
inline uint64_t mask_upto(const uint32_t* masks, size_t w, size_t w_end) {
  return w + 1 < w_end ? mask_pair(masks, w) : masks[w];
}

// Σ operand · x − offset · Σx, in the lanes reduce_block leaves, per block of eight groups.
template <class Codes>
void block_offsets(const BitmapGemmTile& t, size_t rows, int32_t* out) {
  const size_t blocks = (t.groups + kBlockGroups - 1) / kBlockGroups;
  for (size_t i = 0; i < rows; ++i) {
    const int32_t* sums = t.x_sums + std::min(i, t.mr - 1) * t.x_sums_stride;
    for (size_t b = 0; b < blocks; ++b)
      for (size_t l = 0; l < 16; ++l) {
        const size_t g = b * kBlockGroups + kBlockLanes[l];
        out[(i * blocks + b) * 16 + l] = g < t.groups ? Codes::kOffset * sums[g] : 0;
      }
  }
}

template <size_t MR, class Codes>
void bitmap_gemm_rows_512(const BitmapGemmTile& t) {
  const size_t words = t.words_per_row, groups = t.groups, wpg = t.words_per_group;
  const size_t blocks = (groups + kBlockGroups - 1) / kBlockGroups;
  const size_t full_blocks = wpg == 1 ? groups / kBlockGroups : 0;
  static thread_local AlignedArray<int32_t> offset_scratch;
  if (offset_scratch.size() < MR * blocks * 16) offset_scratch = AlignedArray<int32_t>(MR * blocks * 16);
  const int32_t* offsets = offset_scratch.data();
  block_offsets<Codes>(t, MR, offset_scratch.data());
  const __m512i lanes_of_block = _mm512_load_si512(kBlockLanes);
  const uint8_t* values = t.values;

  const int8_t* x[MR];
  for (size_t i = 0; i < MR; ++i) x[i] = t.x + std::min(i, t.mr - 1) * t.x_stride;
  for (size_t r = 0; r < t.rows; ++r) {
    const uint32_t* masks = t.masks + r * words;
    const float* scales = t.scales + r * groups;
    uint64_t e = t.first[r];
    __m512 acc[MR];
    for (size_t i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
    // Block b's four pairs into acc: each X row's eight group sums, less the offsets,
    // times the group scales.
    const auto add_block = [&](size_t b, size_t live, const Pair<MR>& p0, const Pair<MR>& p1,
                               const Pair<MR>& p2, const Pair<MR>& p3) {
      const float* block_scales = scales + b * kBlockGroups;
      const __m256 s8 = live == kBlockGroups
                            ? _mm256_loadu_ps(block_scales)
                            : _mm256_maskz_loadu_ps(static_cast<__mmask8>((1u << live) - 1), block_scales);
      const __m512 s = _mm512_permutexvar_ps(lanes_of_block, _mm512_castps256_ps512(s8));
      for (size_t i = 0; i < MR; ++i) {
        const __m512i d = _mm512_sub_epi32(reduce_block(p0.v[i], p1.v[i], p2.v[i], p3.v[i]),
                                           _mm512_load_si512(offsets + (i * blocks + b) * 16));
        acc[i] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(d), acc[i]);
      }
    };
    size_t b = 0;
    // Groups of 32, eight of them: a step is a pair. The hot loop, without the tails' tests.
    for (; b < full_blocks; ++b) {
      const size_t w = b * kBlockGroups;
      _mm_prefetch(reinterpret_cast<const char*>(values + e + kValuesPrefetch), _MM_HINT_T0);
      Pair<MR> p[4];
#pragma GCC unroll 4
      for (size_t j = 0; j < 4; ++j) {
        for (size_t i = 0; i < MR; ++i) p[j].v[i] = _mm512_setzero_si512();
        step<MR, Codes>(x, values, e, mask_pair(masks, w + 2 * j), w + 2 * j, p[j].v);
      }
      add_block(b, kBlockGroups, p[0], p[1], p[2], p[3]);
    }
    for (; b < blocks; ++b) {
      const size_t g0 = b * kBlockGroups, live = std::min(kBlockGroups, groups - g0);
      // Groups g0 + 2p and g0 + 2p + 1 against each X row, in lanes 0-7 and 8-15. Called
      // with constant p, so the pairs stay in registers.
      const auto pair = [&](size_t p) {
        Pair<MR> out;
        for (size_t i = 0; i < MR; ++i) out.v[i] = _mm512_setzero_si512();
        if (wpg == 1) {
          if (2 * p < live) step<MR, Codes>(x, values, e, mask_upto(masks, g0 + 2 * p, words), g0 + 2 * p, out.v);
          return out;
        }
        Pair<MR> half[2];  // each group's steps, its lanes folded to 8
        for (size_t h = 0; h < 2; ++h) {
          for (size_t i = 0; i < MR; ++i) half[h].v[i] = _mm512_setzero_si512();
          const size_t g = g0 + 2 * p + h;
          if (g >= g0 + live) continue;
          const size_t w_end = std::min(words, (g + 1) * wpg);
          for (size_t w = g * wpg; w < w_end; w += kStepWords)
            step<MR, Codes>(x, values, e, mask_upto(masks, w, w_end), w, half[h].v);
        }
        for (size_t i = 0; i < MR; ++i)
          out.v[i] = _mm512_inserti64x4(_mm512_castsi256_si512(fold(half[0].v[i])),
                                        fold(half[1].v[i]), 1);
        return out;
      };
      _mm_prefetch(reinterpret_cast<const char*>(values + e + kValuesPrefetch), _MM_HINT_T0);
      const Pair<MR> p0 = pair(0), p1 = pair(1), p2 = pair(2), p3 = pair(3);
      add_block(b, live, p0, p1, p2, p3);
    }
    for (size_t i = 0; i < t.mr; ++i) {
      alignas(64) float l[16];
      _mm512_store_ps(l, acc[i]);
      // Header lane j < 4 is lane 4j here, lane j + 4 is lane 4j + 2.
      const float sum = ((l[0] + l[2]) + (l[8] + l[10])) + ((l[4] + l[6]) + (l[12] + l[14]));
      t.y[i * t.y_stride + r] = std::fma(t.x_scale[i], sum, t.bias ? t.bias[r] : 0.0f);
    }
  }
}

// The template's kernels where a group splits a 64-column step (an odd number of words
// other than one, with more than one group per row).
template <class Codes, __m256i (*Expand)(const uint8_t*, uint64_t&, uint32_t)>
void bitmap_gemm_512(const BitmapGemmTile& t) {
  if (t.words_per_group > 1 && t.words_per_group % 2 == 1 && t.groups > 1) {
    bitmap_gemm_x86<Expand>(t, [](__m256i acc, __m256i magnitude, __m256i signed_x) {
      return _mm256_dpbusd_epi32(acc, magnitude, signed_x);
    });
    return;
  }
  switch (t.mr) {
    case 1: bitmap_gemm_rows_512<1, Codes>(t); break;
    case 2: bitmap_gemm_rows_512<2, Codes>(t); break;
    case 3: bitmap_gemm_rows_512<3, Codes>(t); break;
    default: bitmap_gemm_rows_512<4, Codes>(t); break;
  }
}

}  // namespace

void q8_bitmap_gemm_4x1__avx512vbmi2(const BitmapGemmTile& t) {
  bitmap_gemm_512<Q8Codes, expand_q8_vbmi2>(t);
}
void q4_bitmap_gemm_4x1__avx512vbmi2(const BitmapGemmTile& t) {
  bitmap_gemm_512<Q4Codes, expand_q4_vbmi2>(t);
}

}  // namespace sparq::kernels
