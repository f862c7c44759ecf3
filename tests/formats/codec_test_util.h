// Helpers shared by the codec tests: random matrices and little-endian access to payload
// bytes written from SPEC.md section 5 (independent of formats/codec_internal.h).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <vector>

namespace sparq::formats::testing {

// Normal values with magnitudes spread over a few decades; each entry is zero with
// probability `sparsity`.
inline std::vector<float> random_matrix(uint64_t n, double sparsity, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int> decade(-3, 2);
  std::vector<float> v(n);
  for (float& x : v)
    x = unit(rng) < sparsity ? 0.0f
                             : normal(rng) * std::pow(10.0f, static_cast<float>(decade(rng)));
  return v;
}

inline uint64_t read_uint(std::span<const uint8_t> p, uint64_t offset, unsigned width) {
  uint64_t v = 0;
  for (unsigned i = 0; i < width; ++i) v |= uint64_t{p[offset + i]} << (8 * i);
  return v;
}
inline void write_uint(std::span<uint8_t> p, uint64_t offset, unsigned width, uint64_t v) {
  for (unsigned i = 0; i < width; ++i) p[offset + i] = static_cast<uint8_t>(v >> (8 * i));
}
inline float read_f32(std::span<const uint8_t> p, uint64_t offset) {
  return std::bit_cast<float>(static_cast<uint32_t>(read_uint(p, offset, 4)));
}
inline void write_f32(std::span<uint8_t> p, uint64_t offset, float v) {
  write_uint(p, offset, 4, std::bit_cast<uint32_t>(v));
}

}  // namespace sparq::formats::testing
