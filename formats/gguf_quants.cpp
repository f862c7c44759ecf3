// ggml block decoders. Each follows the arithmetic of ggml's reference dequantize_row_* in
// the same order (every product and difference rounded to f32 on its own; this file is
// compiled with -ffp-contract=off so no compiler fuses them), which makes the output
// bit-identical to ggml's. Blocks are read byte by byte, never cast to structs, so any
// alignment and any host byte order work.
#include "formats/gguf_quants.h"

#include <array>
#include <cstring>
#include <utility>

#include <fmt/core.h>

#include "formats/float16.h"

namespace sparq::formats {
namespace {

constexpr uint32_t kQK = 256;  // values per K-quant super-block

// Indexed by ggml_type id; {nullptr, ...} marks an id ggml never used.
constexpr std::array<GgmlTypeInfo, 42> kTypes = {{
    {"F32", 1, 4, true},         // 0
    {"F16", 1, 2, true},         // 1
    {"Q4_0", 32, 18, true},      // 2
    {"Q4_1", 32, 20, false},     // 3
    {"Q4_2", 32, 0, false},      // 4, removed from ggml
    {"Q4_3", 32, 0, false},      // 5, removed from ggml
    {"Q5_0", 32, 22, false},     // 6
    {"Q5_1", 32, 24, false},     // 7
    {"Q8_0", 32, 34, true},      // 8
    {"Q8_1", 32, 36, false},     // 9
    {"Q2_K", kQK, 84, false},    // 10
    {"Q3_K", kQK, 110, false},   // 11
    {"Q4_K", kQK, 144, true},    // 12
    {"Q5_K", kQK, 176, true},    // 13
    {"Q6_K", kQK, 210, true},    // 14
    {"Q8_K", kQK, 292, false},   // 15
    {"IQ2_XXS", kQK, 66, false}, // 16
    {"IQ2_XS", kQK, 74, false},  // 17
    {"IQ3_XXS", kQK, 98, false}, // 18
    {"IQ1_S", kQK, 50, false},   // 19
    {"IQ4_NL", 32, 18, false},   // 20
    {"IQ3_S", kQK, 110, false},  // 21
    {"IQ2_S", kQK, 82, false},   // 22
    {"IQ4_XS", kQK, 136, false}, // 23
    {"I8", 1, 1, false},         // 24
    {"I16", 1, 2, false},        // 25
    {"I32", 1, 4, false},        // 26
    {"I64", 1, 8, false},        // 27
    {"F64", 1, 8, false},        // 28
    {"IQ1_M", kQK, 56, false},   // 29
    {"BF16", 1, 2, true},        // 30
    {"Q4_0_4_4", 32, 0, false},  // 31, removed from GGUF files
    {"Q4_0_4_8", 32, 0, false},  // 32, removed
    {"Q4_0_8_8", 32, 0, false},  // 33, removed
    {"TQ1_0", kQK, 54, false},   // 34
    {"TQ2_0", kQK, 66, false},   // 35
    {"IQ4_NL_4_4", 32, 0, false},// 36, removed
    {"IQ4_NL_4_8", 32, 0, false},// 37, removed
    {"IQ4_NL_8_8", 32, 0, false},// 38, removed
    {"MXFP4", 32, 17, false},    // 39
    {"NVFP4", 64, 36, false},    // 40
    {"Q1_0", 128, 18, false},    // 41
}};

float half_at(const uint8_t* p) { return f16_to_f32(static_cast<uint16_t>(p[0] | p[1] << 8)); }

void decode_f32(const uint8_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t bits = uint32_t{in[4 * i]} | uint32_t{in[4 * i + 1]} << 8 | uint32_t{in[4 * i + 2]} << 16 |
                          uint32_t{in[4 * i + 3]} << 24;
    std::memcpy(&out[i], &bits, 4);
  }
}

void decode_f16(const uint8_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = half_at(in + 2 * i);
}

void decode_bf16(const uint8_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(static_cast<uint16_t>(in[2 * i] | in[2 * i + 1] << 8));
}

// Q8_0: f16 d, then 32 signed bytes; x = q * d.
void decode_q8_0(const uint8_t* block, float* out) {
  const float d = half_at(block);
  for (int j = 0; j < 32; ++j) out[j] = static_cast<float>(static_cast<int8_t>(block[2 + j])) * d;
}

// Q4_0: f16 d, then 16 bytes; byte j holds value j (low nibble) and value j + 16 (high),
// both offset by 8.
void decode_q4_0(const uint8_t* block, float* out) {
  const float d = half_at(block);
  const uint8_t* qs = block + 2;
  for (int j = 0; j < 16; ++j) {
    out[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
    out[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

// Sub-block j's scale and offset: its 6-bit scale and min times the block's d and dmin.
std::pair<float, float> k_chunk_scale(int j, const uint8_t* scales, float d, float dmin) {
  uint8_t sc, m;
  ggml_k_scale_min(j, scales, &sc, &m);
  return {d * sc, dmin * m};
}

// Q4_K: f16 d, f16 dmin, 12 scale bytes, 128 quant bytes. Each 64 values use 32 quant bytes:
// their low nibbles are values 0-31 (pair 2i), their high nibbles values 32-63 (pair 2i+1).
void decode_q4_k(const uint8_t* block, float* out) {
  const float d = half_at(block);
  const float dmin = half_at(block + 2);
  const uint8_t* scales = block + 4;
  const uint8_t* qs = block + 16;
  for (int i = 0; i < 4; ++i) {
    const auto [d_lo, m_lo] = k_chunk_scale(2 * i, scales, d, dmin);
    const auto [d_hi, m_hi] = k_chunk_scale(2 * i + 1, scales, d, dmin);
    const uint8_t* q = qs + 32 * i;
    float* y = out + 64 * i;
    for (int l = 0; l < 32; ++l) y[l] = d_lo * static_cast<float>(q[l] & 0x0F) - m_lo;
    for (int l = 0; l < 32; ++l) y[32 + l] = d_hi * static_cast<float>(q[l] >> 4) - m_hi;
  }
}

// Q5_K: Q4_K's layout with 32 bytes of fifth bits (qh) between the scales and the nibbles.
// Chunk i of 64 values takes its fifth bits from bit 2i (low half) and 2i+1 (high half).
void decode_q5_k(const uint8_t* block, float* out) {
  const float d = half_at(block);
  const float dmin = half_at(block + 2);
  const uint8_t* scales = block + 4;
  const uint8_t* qh = block + 16;
  const uint8_t* qs = block + 48;
  for (int i = 0; i < 4; ++i) {
    const auto [d_lo, m_lo] = k_chunk_scale(2 * i, scales, d, dmin);
    const auto [d_hi, m_hi] = k_chunk_scale(2 * i + 1, scales, d, dmin);
    const uint8_t bit_lo = static_cast<uint8_t>(1u << (2 * i)), bit_hi = static_cast<uint8_t>(2u << (2 * i));
    const uint8_t* q = qs + 32 * i;
    float* y = out + 64 * i;
    for (int l = 0; l < 32; ++l) {
      const int v = (q[l] & 0x0F) + ((qh[l] & bit_lo) ? 16 : 0);
      y[l] = d_lo * static_cast<float>(v) - m_lo;
    }
    for (int l = 0; l < 32; ++l) {
      const int v = (q[l] >> 4) + ((qh[l] & bit_hi) ? 16 : 0);
      y[32 + l] = d_hi * static_cast<float>(v) - m_hi;
    }
  }
}

// Q6_K: 128 bytes of low nibbles, 64 bytes of two-bit high parts, 16 signed scales, f16 d.
// Each half (128 values) uses 64 ql bytes, 32 qh bytes and 8 scales: value l + 32k of the
// half (k = 0..3) takes the low or high nibble of ql[l] / ql[l + 32] and bits 2k..2k+1 of
// qh[l]; its scale is scales[k*2 + l/16].
void decode_q6_k(const uint8_t* block, float* out) {
  const float d = half_at(block + 208);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = block + 64 * half;
    const uint8_t* qh = block + 128 + 32 * half;
    const auto* sc = reinterpret_cast<const int8_t*>(block + 192 + 8 * half);
    float* y = out + 128 * half;
    for (int l = 0; l < 32; ++l) {
      const int s = l / 16;
      const int q0 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32;
      const int q1 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[s]) * static_cast<float>(q0);
      y[l + 32] = d * static_cast<float>(sc[s + 2]) * static_cast<float>(q1);
      y[l + 64] = d * static_cast<float>(sc[s + 4]) * static_cast<float>(q2);
      y[l + 96] = d * static_cast<float>(sc[s + 6]) * static_cast<float>(q3);
    }
  }
}

using BlockDecoder = void (*)(const uint8_t*, float*);

BlockDecoder block_decoder(GgmlType type) {
  switch (type) {
    case GgmlType::Q8_0: return decode_q8_0;
    case GgmlType::Q4_0: return decode_q4_0;
    case GgmlType::Q4_K: return decode_q4_k;
    case GgmlType::Q5_K: return decode_q5_k;
    case GgmlType::Q6_K: return decode_q6_k;
    default: return nullptr;
  }
}

}  // namespace

// The K-quants' 8 six-bit (scale, min) pairs packed into 12 bytes: pairs 0-3 are the low six
// bits of bytes 0-3 (scales) and 4-7 (mins); pairs 4-7 take their low four bits from the
// nibbles of bytes 8-11 and their top two bits from the spare high bits of bytes 0-7.
void ggml_k_scale_min(int j, const uint8_t* s, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

const GgmlTypeInfo* ggml_type_info(uint32_t type) {
  return type < kTypes.size() ? &kTypes[type] : nullptr;
}

std::string ggml_type_label(uint32_t type) {
  const GgmlTypeInfo* info = ggml_type_info(type);
  return fmt::format("{} ({})", info ? info->name : "unknown", type);
}

Status dequantize_ggml(uint32_t type, std::span<const uint8_t> bytes, std::span<float> out) {
  const GgmlTypeInfo* info = ggml_type_info(type);
  if (info == nullptr || !info->decodable) {
    return Error(fmt::format("type {} is not supported (sparq reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K and Q6_K)",
                             ggml_type_label(type)),
                 ErrorKind::unsupported);
  }
  if (out.size() % info->block_size != 0) {
    return Error(fmt::format("{} values are not a whole number of {} blocks of {}", out.size(), info->name,
                             info->block_size),
                 ErrorKind::invalid_argument);
  }
  const size_t blocks = out.size() / info->block_size;
  if (bytes.size() / info->block_bytes != blocks || bytes.size() % info->block_bytes != 0) {
    return Error(fmt::format("{} bytes do not hold {} values of {} ({} bytes)", bytes.size(), out.size(), info->name,
                             blocks * info->block_bytes),
                 ErrorKind::invalid_argument);
  }
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32: decode_f32(bytes.data(), out.data(), out.size()); return {};
    case GgmlType::F16: decode_f16(bytes.data(), out.data(), out.size()); return {};
    case GgmlType::BF16: decode_bf16(bytes.data(), out.data(), out.size()); return {};
    default: break;
  }
  const BlockDecoder decode = block_decoder(static_cast<GgmlType>(type));
  for (size_t b = 0; b < blocks; ++b) decode(bytes.data() + b * info->block_bytes, out.data() + b * info->block_size);
  return {};
}

}  // namespace sparq::formats
