// formats/float16.h. f16 against the hardware (x86 F16C vcvtps2ph/vcvtph2ps, or the
// compiler's _Float16 where F16C is absent; AArch64 FCVT through __fp16), bit for bit
// including NaNs, and every half decoded against the binary16 definition worked out here by
// hand. bf16 against an integer reference built from the definition: pick the nearer of the
// two bf16 neighbours, ties to the even one.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>

#include "formats/float16.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace sparq::formats {
namespace {

#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t f16c_encode(float v) {
  return _cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
__attribute__((target("f16c"))) float f16c_decode(uint16_t h) { return _cvtsh_ss(h); }
// CPUID rather than __builtin_cpu_supports("f16c"), which clang 14 does not know.
bool has_f16c() {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}

// Without F16C the compiler's _Float16 is the reference, where it has one (GCC 12 does on
// x86, clang 14 does not).
uint16_t reference_f32_to_f16(float v) {
  if (has_f16c()) return f16c_encode(v);
#if defined(__FLT16_MANT_DIG__)
  return std::bit_cast<uint16_t>(static_cast<_Float16>(v));
#else
  ADD_FAILURE() << "no f16 reference here: the CPU lacks F16C and the compiler _Float16";
  return 0;
#endif
}
float reference_f16_to_f32(uint16_t h) {
  if (has_f16c()) return f16c_decode(h);
#if defined(__FLT16_MANT_DIG__)
  return static_cast<float>(std::bit_cast<_Float16>(h));
#else
  ADD_FAILURE() << "no f16 reference here: the CPU lacks F16C and the compiler _Float16";
  return 0;
#endif
}
#elif defined(__aarch64__)
uint16_t reference_f32_to_f16(float v) { return std::bit_cast<uint16_t>(static_cast<__fp16>(v)); }
float reference_f16_to_f32(uint16_t h) { return static_cast<float>(std::bit_cast<__fp16>(h)); }
#else
#error "no f16 reference for this architecture"
#endif

uint32_t bits(float v) { return std::bit_cast<uint32_t>(v); }
float from_bits(uint32_t b) { return std::bit_cast<float>(b); }

void expect_f16_encode_matches(uint32_t b) {
  const float v = from_bits(b);
  ASSERT_EQ(f32_to_f16(v), reference_f32_to_f16(v)) << "f32 bits 0x" << std::hex << b;
}

TEST(FloatConvert, F16DecodeMatchesHardwareForAll65536Patterns) {
  for (uint32_t h = 0; h < 65536; ++h)
    ASSERT_EQ(bits(f16_to_f32(static_cast<uint16_t>(h))),
              bits(reference_f16_to_f32(static_cast<uint16_t>(h))))
        << "f16 0x" << std::hex << h;
}

// binary16 by its fields: sign, 5-bit exponent e (bias 15), 10-bit fraction m. e = 0 is
// zero or subnormal, m·2^-24; e = 31 is infinity (m = 0) or NaN, which comes out quiet with
// its sign and payload: f32 quiet bit 22 set, m in f32 fraction bits 12..21. Otherwise
// (1024 + m)·2^(e-25). Every finite half is exact in double and in f32.
uint32_t f32_bits_of_half_by_definition(uint32_t h) {
  const uint32_t sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  if (e == 31) return sign << 31 | 0x7f800000u | (m != 0 ? 0x400000u | m << 13 : 0);
  const double magnitude = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, int(e) - 25);
  return bits(static_cast<float>(sign ? -magnitude : magnitude));
}

TEST(FloatConvert, F16DecodeMatchesTheDefinitionForAll65536Patterns) {
  int subnormals = 0, nans = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    ASSERT_EQ(bits(f16_to_f32(static_cast<uint16_t>(h))), f32_bits_of_half_by_definition(h))
        << "f16 0x" << std::hex << h;
    const uint32_t e = (h >> 10) & 31, m = h & 1023;
    subnormals += e == 0 && m != 0;
    nans += e == 31 && m != 0;
  }
  EXPECT_EQ(subnormals, 2 * 1023);
  EXPECT_EQ(nans, 2 * 1023);
  // Spot values from the binary16 tables: the largest finite, the smallest normal and
  // subnormal, the signalling NaN 0x7c01 made quiet.
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0400), 0x1p-14f);
  EXPECT_EQ(f16_to_f32(0x8001), -0x1p-24f);
  EXPECT_EQ(bits(f16_to_f32(0xfc00)), 0xff800000u);
  EXPECT_EQ(bits(f16_to_f32(0x7c01)), 0x7fc02000u);
}

// Every f16 value, the f32 neighbours of it, and the exact midpoints to the next f16 value
// and their neighbours: all the places where round-to-nearest-even can go wrong.
TEST(FloatConvert, F16EncodeMatchesHardwareAtEveryRoundingBoundary) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint32_t b = bits(f16_to_f32(static_cast<uint16_t>(h)));
    for (uint32_t d : {0u, 1u, ~0u}) expect_f16_encode_matches(b + d);
    if ((h & 0x7fff) >= 0x7c00) continue;  // Inf and NaN have no next value
    const double mid = (static_cast<double>(f16_to_f32(static_cast<uint16_t>(h))) +
                        static_cast<double>(f16_to_f32(static_cast<uint16_t>(h + 1)))) /
                       2;
    if ((h & 0x7fff) == 0x7bff) continue;  // the next pattern is Inf
    const uint32_t m = bits(static_cast<float>(mid));
    ASSERT_EQ(static_cast<double>(from_bits(m)), mid) << "midpoint not exact in f32";
    for (uint32_t d : {0u, 1u, ~0u}) expect_f16_encode_matches(m + d);
  }
  // Overflow threshold: 65520 is the midpoint between 65504 and 2^16 and rounds to Inf.
  for (uint32_t b = bits(65504.0f); b <= bits(65536.0f); b += 64) expect_f16_encode_matches(b);
}

TEST(FloatConvert, F16EncodeMatchesHardwareOnRandomValues) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<uint32_t> any;
  std::uniform_int_distribution<uint32_t> near_f16_exponent(95, 145);
  for (int i = 0; i < (1 << 19); ++i) {
    const uint32_t r = any(rng);
    expect_f16_encode_matches(r);
    // The same with an exponent where f16 normals and subnormals live.
    expect_f16_encode_matches((r & 0x807fffff) | near_f16_exponent(rng) << 23);
  }
}

TEST(FloatConvert, F16RoundTripsEveryNonNaNPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0) continue;
    ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

// Definition: the bf16 of x is the bf16 value nearest to x, ties to an even mantissa; the
// two candidates are the truncation (toward zero) and the next value away from zero.
uint16_t reference_f32_to_bf16(uint32_t b) {
  const uint16_t toward_zero = static_cast<uint16_t>(b >> 16);
  if ((b & 0xffff) == 0) return toward_zero;
  const uint16_t away = static_cast<uint16_t>(toward_zero + 1);
  const double x = std::fabs(static_cast<double>(from_bits(b)));
  const double lo = std::fabs(static_cast<double>(from_bits(uint32_t{toward_zero} << 16)));
  // The step above the largest finite bf16 (exponent 254) lands on 2^128.
  const double hi = (away & 0x7fff) == 0x7f80
                        ? std::ldexp(1.0, 128)
                        : std::fabs(static_cast<double>(from_bits(uint32_t{away} << 16)));
  if (x - lo < hi - x) return toward_zero;
  if (hi - x < x - lo) return away;
  return (toward_zero & 1) == 0 ? toward_zero : away;
}

TEST(FloatConvert, Bf16MatchesDefinitionOverAllUpperHalves) {
  std::mt19937 rng(99);
  std::uniform_int_distribution<uint32_t> low(0, 0xffff);
  for (uint32_t upper = 0; upper < 65536; ++upper) {
    EXPECT_EQ(bits(bf16_to_f32(static_cast<uint16_t>(upper))), upper << 16);
    for (uint32_t lower : {0u, 1u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu, low(rng)}) {
      const uint32_t b = upper << 16 | lower;
      const float v = from_bits(b);
      const uint16_t got = f32_to_bf16(v);
      if (std::isnan(v)) {
        ASSERT_TRUE(std::isnan(bf16_to_f32(got))) << std::hex << b;
        ASSERT_EQ(got & 0x8000, upper & 0x8000) << "NaN sign lost for " << std::hex << b;
      } else {
        ASSERT_EQ(got, reference_f32_to_bf16(b)) << "f32 bits 0x" << std::hex << b;
      }
    }
  }
}

}  // namespace
}  // namespace sparq::formats
