// The aarch64 bitmap kernels (kernels/bitmap_gemm.h), one template over the int8 dot
// product: sdot (neon_dotprod, neon_i8mm) or smull + smlal2 into 16-bit pairs gathered into
// int32 by sadalp (neon; exact, as |w| ≤ 128 and |x| ≤ 127 keep a pair below 32767), and
// the prefill expansion over the same word expansions.
// Each 32-column mask word is expanded to 32 weight bytes by two tbl: the mask's 4 bytes
// pick 4 patterns of 8 columns from a 256-entry table, each offset by the values the runs
// before it consume (cnt on the mask's bytes, prefix-summed by one multiply), indexing one
// 32-byte load of the stream at the word's first value (q8) or the 33 nibbles from the byte
// holding it, widened to bytes minus 8 (q4, a 48-byte table; an odd start adds 1).
// Include only from kernels/neon* translation units. Everything here has internal linkage:
// a copy compiled with one level's flags must never be the one the linker keeps for another
// level's kernels.
#pragma once

#include <arm_neon.h>

#include <algorithm>
#include <bit>
#include <cmath>

#include "kernels/bitmap_gemm.h"

namespace sparq::kernels {
namespace {

// For each 8-bit mask: the tbl pattern moving the run's stored values to the set bits in
// order (0x80, past any table and so a zero, at the clear ones).
struct BitmapExpandTable {
  uint8_t pattern[256][8];
};
constexpr BitmapExpandTable make_bitmap_expand_table() {
  BitmapExpandTable t{};
  for (unsigned m = 0; m < 256; ++m) {
    uint8_t count = 0;
    for (unsigned bit = 0; bit < 8; ++bit) t.pattern[m][bit] = (m >> bit & 1) ? count++ : 0x80;
  }
  return t;
}
constexpr BitmapExpandTable kBitmapExpand = make_bitmap_expand_table();

// Which byte of a 32-bit lane each byte of the two index vectors takes its offset from:
// runs 0 and 1 (columns 0-15), runs 2 and 3 (columns 16-31).
constexpr uint8_t kRuns01[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
constexpr uint8_t kRuns23[16] = {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};

// How far ahead of the current entry the kernels prefetch the value stream, in bytes.
constexpr size_t kValuesPrefetch = 1024;

// A mask word's 32 weight bytes: columns 0-15 and 16-31.
struct ExpandedWord {
  int8x16_t lo, hi;
};

// The tbl indices of a mask word's columns into a table whose entry `start` is the word's
// first stored value: run j's pattern plus `start` plus the values of runs 0..j-1. Set
// bits index at most start + 31; clear ones stay at 0x80 or above (at most 0x80 + 25).
struct WordIndices {
  uint8x16_t lo, hi;
};
inline WordIndices word_indices(uint32_t mask, uint8_t start) {
  const uint8x16_t counts = vcntq_u8(vreinterpretq_u8_u32(vdupq_n_u32(mask)));
  // Byte j of each 32-bit lane: c0 + ... + c(j-1) (≤ 24 each, so no carries).
  const uint8x16_t before = vaddq_u8(
      vreinterpretq_u8_u32(vmulq_n_u32(vreinterpretq_u32_u8(counts), 0x01010100u)),
      vdupq_n_u8(start));
  const auto& pat = kBitmapExpand.pattern;
  const uint8x16_t runs01 = vcombine_u8(vld1_u8(pat[mask & 0xff]), vld1_u8(pat[mask >> 8 & 0xff]));
  const uint8x16_t runs23 =
      vcombine_u8(vld1_u8(pat[mask >> 16 & 0xff]), vld1_u8(pat[mask >> 24]));
  return {vaddq_u8(runs01, vqtbl1q_u8(before, vld1q_u8(kRuns01))),
          vaddq_u8(runs23, vqtbl1q_u8(before, vld1q_u8(kRuns23)))};
}

// q8: the 32 bytes from the word's first value are the table.
inline ExpandedWord expand_q8(const uint8_t* values, uint64_t& e, uint32_t mask) {
  const WordIndices idx = word_indices(mask, 0);
  const uint8x16x2_t table = vld1q_u8_x2(values + e);
  e += static_cast<unsigned>(std::popcount(mask));
  return {vreinterpretq_s8_u8(vqtbl2q_u8(table, idx.lo)),
          vreinterpretq_s8_u8(vqtbl2q_u8(table, idx.hi))};
}

// q4: entry e is nibble e of the stream. The 17 bytes from the one holding entry e are
// widened to 33 values (nibble - 8) in order; an odd e starts at the second.
inline ExpandedWord expand_q4(const uint8_t* values, uint64_t& e, uint32_t mask) {
  const WordIndices idx = word_indices(mask, static_cast<uint8_t>(e & 1));
  const uint8_t* p = values + e / 2;
  e += static_cast<unsigned>(std::popcount(mask));
  const uint8x16_t a = vld1q_u8(p), b = vld1q_u8(p + 16);  // of b only byte 0 is used
  const uint8x16_t nibble = vdupq_n_u8(0x0f), eight = vdupq_n_u8(8);
  const uint8x16_t a_lo = vandq_u8(a, nibble), a_hi = vshrq_n_u8(a, 4);
  const uint8x16_t b_lo = vandq_u8(b, nibble), b_hi = vshrq_n_u8(b, 4);
  const uint8x16x3_t table = {{vsubq_u8(vzip1q_u8(a_lo, a_hi), eight),
                               vsubq_u8(vzip2q_u8(a_lo, a_hi), eight),
                               vsubq_u8(vzip1q_u8(b_lo, b_hi), eight)}};
  return {vreinterpretq_s8_u8(vqtbl3q_u8(table, idx.lo)),
          vreinterpretq_s8_u8(vqtbl3q_u8(table, idx.hi))};
}

using WordExpansion = ExpandedWord (*)(const uint8_t*, uint64_t&, uint32_t);

// The int8 dot products: dot(acc, w, x) adds the products of 16 byte pairs to the 4 int32
// lanes of acc (which lane takes which product is the policy's; only their sum is used).
struct WideningDot {
  static int32x4_t dot(int32x4_t acc, int8x16_t w, int8x16_t x) {
    const int16x8_t pairs = vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(x)), w, x);
    return vpadalq_s16(acc, pairs);
  }
};

#if defined(__ARM_FEATURE_DOTPROD)
struct SdotDot {
  static int32x4_t dot(int32x4_t acc, int8x16_t w, int8x16_t x) { return vdotq_s32(acc, w, x); }
};
#endif

// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), the order kernels/bitmap_gemm.h fixes,
// of lanes 0-3 in `low` and 4-7 in `high`.
inline float sum_group_lanes(float32x4_t low, float32x4_t high) {
  const float32x4_t a = vaddq_f32(low, high);  // l0 + l4, l1 + l5, l2 + l6, l3 + l7
  return vpadds_f32(vadd_f32(vget_low_f32(a), vget_high_f32(a)));
}

template <size_t MR, class Dot, WordExpansion Expand>
void bitmap_gemm_rows(const BitmapGemmTile& t) {
  // MR is t.mr (bitmap_gemm_neon): row i of X is i · x_stride past row 0. Words and X are
  // walked by pointer, group after group: fewer live indices, no spills in the word loop.
  const size_t x_stride = t.x_stride, words_per_group = t.words_per_group;
  const uint8_t* values = t.values;
  constexpr size_t kLanes = kBitmapGroupLanes;
  alignas(16) float block_scales[kLanes];
  alignas(16) int32_t d[MR][kLanes];
  for (size_t r = 0; r < t.rows; ++r) {
    const uint32_t* mask = t.masks + r * t.words_per_row;
    const uint32_t* const row_end = mask + t.words_per_row;
    const int8_t* xw = t.x;
    const float* scales = t.scales + r * t.groups;
    uint64_t e = t.first[r];
    float32x4_t acc_low[MR], acc_high[MR];  // group lanes 0-3 and 4-7
    for (size_t i = 0; i < MR; ++i) acc_low[i] = acc_high[i] = vdupq_n_f32(0.0f);
    for (size_t g0 = 0; g0 < t.groups; g0 += kLanes) {
      const size_t lanes = std::min(kLanes, t.groups - g0);
      // The value stream advances by a data-dependent stride the hardware prefetcher follows
      // late; ask for what the next blocks will read.
      __builtin_prefetch(values + e + kValuesPrefetch);
      for (size_t l = 0; l < lanes; ++l) {
        int32x4_t sum_lo[MR], sum_hi[MR];  // two chains per row
        for (size_t i = 0; i < MR; ++i) sum_lo[i] = sum_hi[i] = vdupq_n_s32(0);
        const uint32_t* const group_end =
            mask + std::min<size_t>(words_per_group, static_cast<size_t>(row_end - mask));
        for (; mask < group_end; ++mask, xw += kBitmapWordColumns) {
          const ExpandedWord wq = Expand(values, e, *mask);
          for (size_t i = 0; i < MR; ++i) {
            sum_lo[i] = Dot::dot(sum_lo[i], wq.lo, vld1q_s8(xw + i * x_stride));
            sum_hi[i] = Dot::dot(sum_hi[i], wq.hi, vld1q_s8(xw + i * x_stride + 16));
          }
        }
        for (size_t i = 0; i < MR; ++i) d[i][l] = vaddvq_s32(vaddq_s32(sum_lo[i], sum_hi[i]));
        block_scales[l] = scales[g0 + l];
      }
      // Groups past the last pad with scale 0 and d = 0, which leaves the lanes unchanged.
      for (size_t l = lanes; l < kLanes; ++l) {
        block_scales[l] = 0.0f;
        for (size_t i = 0; i < MR; ++i) d[i][l] = 0;
      }
      const float32x4_t s_low = vld1q_f32(block_scales), s_high = vld1q_f32(block_scales + 4);
      for (size_t i = 0; i < MR; ++i) {
        acc_low[i] = vfmaq_f32(acc_low[i], s_low, vcvtq_f32_s32(vld1q_s32(d[i])));
        acc_high[i] = vfmaq_f32(acc_high[i], s_high, vcvtq_f32_s32(vld1q_s32(d[i] + 4)));
      }
    }
    for (size_t i = 0; i < t.mr; ++i)
      t.y[i * t.y_stride + r] = std::fma(t.x_scale[i], sum_group_lanes(acc_low[i], acc_high[i]),
                                         t.bias ? t.bias[r] : 0.0f);
  }
}

// Instantiated for the exact row count, so GEMV (m = 1..3) computes no rows it throws away.
template <class Dot, WordExpansion Expand>
void bitmap_gemm_neon(const BitmapGemmTile& t) {
  switch (t.mr) {
    case 1: bitmap_gemm_rows<1, Dot, Expand>(t); break;
    case 2: bitmap_gemm_rows<2, Dot, Expand>(t); break;
    case 3: bitmap_gemm_rows<3, Dot, Expand>(t); break;
    default: bitmap_gemm_rows<4, Dot, Expand>(t); break;
  }
}

// The prefill expansion (BitmapExpandTile): every word of every row through Expand, stored
// as signed bytes.
template <WordExpansion Expand>
void bitmap_expand_rows_neon(const BitmapExpandTile& t) {
  // Locals: the stores through uint8_t* would otherwise reload t's fields every word.
  const uint8_t* values = t.values;
  const size_t words = t.words_per_row;
  for (size_t r = 0; r < t.rows; ++r) {
    const uint32_t* masks = t.masks + r * words;
    int8_t* out = reinterpret_cast<int8_t*>(t.w + r * t.w_stride);
    uint64_t e = t.first[r];
    for (size_t w = 0; w < words; ++w) {
      if (w % 8 == 0)  // as bitmap_gemm_rows: ahead of the data-dependent value stream
        __builtin_prefetch(values + e + kValuesPrefetch);
      const ExpandedWord wq = Expand(values, e, masks[w]);
      vst1q_s8(out + w * kBitmapWordColumns, wq.lo);
      vst1q_s8(out + w * kBitmapWordColumns + 16, wq.hi);
    }
  }
}

}  // namespace
}  // namespace sparq::kernels
