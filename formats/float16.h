// IEEE binary16 and bfloat16 <-> binary32, bit-exact and portable (no F16C/FP16 needed).
// NaNs keep their sign and top payload bits and come out quiet, as x86 F16C and AArch64
// FCVT do, so these agree bit for bit with the hardware. Header-only and dependent on
// nothing, so that formats/ (the codecs) and kernels/ (embedding lookup) share one
// definition through the `float16` include root without either including the other.
#pragma once

#include <bit>
#include <cstdint>

namespace sparq {

namespace float16_detail {

// Rounds `m >> shift` to nearest, ties to even.
constexpr uint32_t shift_right_round_even(uint32_t m, uint32_t shift) {
  const uint32_t kept = m >> shift;
  const uint32_t rest = m & ((uint32_t{1} << shift) - 1);
  const uint32_t half = uint32_t{1} << (shift - 1);
  return kept + (rest > half || (rest == half && (kept & 1)));
}

}  // namespace float16_detail

// Round to nearest even; overflow goes to infinity.
inline uint16_t f32_to_f16(float v) {
  using float16_detail::shift_right_round_even;
  const uint32_t bits = std::bit_cast<uint32_t>(v);
  const uint32_t sign = (bits >> 16) & 0x8000;
  const uint32_t exp = (bits >> 23) & 0xff;
  const uint32_t mant = bits & 0x7fffff;
  if (exp == 0xff)
    return static_cast<uint16_t>(sign | 0x7c00 | (mant != 0 ? 0x200 | (mant >> 13) : 0));
  // f32 exponent 113 is f16's smallest normal (2^-14); 143 (2^16) and up overflow.
  if (exp >= 143) return static_cast<uint16_t>(sign | 0x7c00);
  if (exp >= 113) {
    // A carry out of the mantissa correctly bumps the exponent, up to infinity.
    return static_cast<uint16_t>(sign | shift_right_round_even((exp - 112) << 23 | mant, 13));
  }
  // Below 2^-25 everything rounds to zero (2^-25 itself is a tie that goes to even 0).
  if (exp < 102) return static_cast<uint16_t>(sign);
  // Subnormal result in units of 2^-24: the 24-bit significand shifted by 126 - exp.
  return static_cast<uint16_t>(sign | shift_right_round_even(mant | 0x800000, 126 - exp));
}

// Exact for every input.
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  if (exp == 0x1f)
    return std::bit_cast<float>(sign | 0x7f800000 | (mant != 0 ? 0x400000 | (mant << 13) : 0));
  if (exp == 0) {
    const float magnitude = static_cast<float>(mant) * 0x1p-24f;  // exact
    return sign ? -magnitude : magnitude;
  }
  return std::bit_cast<float>(sign | (exp + 112) << 23 | mant << 13);
}

// Round to nearest even.
inline uint16_t f32_to_bf16(float v) {
  const uint32_t bits = std::bit_cast<uint32_t>(v);
  if ((bits & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((bits >> 16) | 0x40);
  // Adding just under half an ulp, plus one when the kept part is odd, rounds to even.
  return static_cast<uint16_t>((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

inline float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(uint32_t{h} << 16); }

}  // namespace sparq
