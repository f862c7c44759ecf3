// GGUF tensor data re-stored as a sparq encoding without requantizing: the sparq payload is
// built directly from the ggml blocks (scales and integer codes moved, nothing rounded again),
// so formats' decoder gives bit for bit what ggml's dequantize_row_* gives (SPEC.md, GGUF
// appendix). Where no sparq encoding holds a type's values exactly (Q5_K), there is none.
//
//   F32, F16, BF16  f32, f16, bf16 (the bytes as they are)
//   Q8_0            q8 group 32:  scale = f32(d), q as stored
//   Q4_0            q4 group 32 symmetric:  scale = f32(d), nibbles repacked
//   Q4_K            q4 group 32 asymmetric: scale = f32(d)·sc, min = −(f32(dmin)·m)
//   Q6_K            q8 group 16:  scale = f32(d)·scale_j, q = six bits − 32
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "formats/error.h"
#include "formats/tensor_codec.h"

namespace sparq::formats {

// The sparq encoding that holds `ggml_type`'s values exactly, if there is one.
std::optional<EncodeOptions> exact_sparq_encoding(uint32_t ggml_type);

// The tensor `bytes` of `ggml_type` (row-major in `dims`, sparq's order, as GgufTensor::shape)
// as a sparq payload of exact_sparq_encoding(ggml_type). A type without one, or bytes that are
// not exactly the tensor's blocks, is an error naming the type (the caller adds the tensor).
Result<EncodedTensor> transcode_ggml_exact(std::string name, std::vector<uint64_t> dims, uint32_t ggml_type,
                                           std::span<const uint8_t> bytes);

}  // namespace sparq::formats
