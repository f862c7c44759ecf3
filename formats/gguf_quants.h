// ggml's tensor element types as GGUF files store them, and the block decoders for the ones
// sparq reads: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K and Q6_K. Every decoder reproduces
// ggml's reference `dequantize_row_*` bit for bit (same f16 scale conversion, same order of
// float operations, no fused multiply-add). Every other type ggml defines is known by name
// and size, so a file holding it can still be validated, but it cannot be decoded.
//
// Block layouts (little-endian; `f16` is an IEEE half; QK_K = 256):
//   Q8_0  32 values, 34 bytes: f16 d, int8 q[32];            x = q * d
//   Q4_0  32 values, 18 bytes: f16 d, u8 qs[16];             x[j] = (qs[j] & 15) - 8, x[j+16] = (qs[j] >> 4) - 8, times d
//   Q4_K 256 values, 144 bytes: f16 d, f16 dmin, u8 scales[12] (8 six-bit scale/min pairs),
//        u8 qs[128]; each 64 values: 32 low nibbles then 32 high nibbles of 32 bytes, each
//        half its own (sc, m): x = (d*sc) * q - (dmin*m)
//   Q5_K 256 values, 176 bytes: Q4_K plus u8 qh[32] (the fifth bits) between scales and qs
//   Q6_K 256 values, 210 bytes: u8 ql[128], u8 qh[64], int8 scales[16], f16 d;
//        x = (d*scale) * (q - 32) with q six bits (4 from ql, 2 from qh)
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "formats/error.h"

namespace sparq::formats {

// ggml_type ids as written in a GGUF tensor info. Ids 4, 5, 31-33 and 36-38 were removed
// from ggml and are refused when a file is opened.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41,
};

struct GgmlTypeInfo {
  const char* name;     // ggml's spelling, upper case: "Q4_K", "IQ2_XXS"
  uint32_t block_size;  // values per block (1 for plain element types)
  uint32_t block_bytes; // bytes per block; 0 for ids ggml removed (no layout to check)
  bool decodable;       // sparq's dequantize_ggml reads it
};

// The type's description, or nullptr for an id ggml never defined (or defined after this
// reader was written).
const GgmlTypeInfo* ggml_type_info(uint32_t type);

// "Q4_K (12)", or "unknown (77)" for an id ggml_type_info does not know.
std::string ggml_type_label(uint32_t type);

// The K-quants' six-bit (scale, min) pair j (0-7) of a Q4_K / Q5_K super-block's 12 scale
// bytes: pairs 0-3 are the low six bits of bytes 0-3 (scales) and 4-7 (mins); pairs 4-7 take
// their low four bits from the nibbles of bytes 8-11 and their top two bits from the spare
// high bits of bytes 0-7. The decoders and the exact transcode into sparq encodings share it.
void ggml_k_scale_min(int j, const uint8_t* scales, uint8_t* scale, uint8_t* min);

// Decodes `out.size()` values of `type` from `bytes` into `out`, in storage order. `out.size()`
// must be a whole number of blocks and `bytes` exactly that many blocks; a type sparq does not
// decode is refused naming it ("type IQ2_XXS (16) is not supported"). Callers add the tensor.
Status dequantize_ggml(uint32_t type, std::span<const uint8_t> bytes, std::span<float> out);

}  // namespace sparq::formats
