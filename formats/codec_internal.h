// Shared pieces of the reference codecs (codec_*.cpp): little-endian access to payload
// sections, the scalar quantizer of SPEC.md section 5, and each encoding's entry points,
// which tensor_codec.cpp dispatches to. Not part of the public interface.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>

#include "formats/error.h"
#include "formats/tensor_codec.h"
#include "formats/tensor_desc.h"

namespace sparq::formats::codec {

// Payload bytes are copied straight into host integers and floats.
static_assert(std::endian::native == std::endian::little, "sparq payloads are little-endian");

// Payloads are unaligned byte arrays: every access goes through memcpy.
template <class T>
T load(const uint8_t* base, uint64_t i) {
  T v;
  std::memcpy(&v, base + i * sizeof(T), sizeof(T));
  return v;
}
template <class T>
void store(uint8_t* base, uint64_t i, T v) {
  std::memcpy(base + i * sizeof(T), &v, sizeof(T));
}

// Row pointers and column indices are stored 2, 4 or 8 bytes wide (layout widths).
inline uint64_t load_index(const uint8_t* base, uint64_t i, unsigned width) {
  switch (width) {
    case 2: return load<uint16_t>(base, i);
    case 4: return load<uint32_t>(base, i);
    default: return load<uint64_t>(base, i);
  }
}
inline void store_index(uint8_t* base, uint64_t i, unsigned width, uint64_t v) {
  switch (width) {
    case 2: store(base, i, static_cast<uint16_t>(v)); break;
    case 4: store(base, i, static_cast<uint32_t>(v)); break;
    default: store(base, i, v); break;
  }
}

inline const uint8_t* section(std::span<const uint8_t> payload, const Section& s) {
  return payload.data() + s.offset;
}
inline uint8_t* section(std::span<uint8_t> payload, const Section& s) {
  return payload.data() + s.offset;
}

// q = clamp(round_half_away(w / scale), qmin, qmax), and 0 for a zero scale (an all-zero
// group, or one so small its scale underflows). std::round rounds halves away from zero.
inline int quantize(float w, float scale, int qmin, int qmax) {
  if (scale == 0.0f) return 0;
  const float q = std::round(w / scale);
  return static_cast<int>(std::clamp(q, static_cast<float>(qmin), static_cast<float>(qmax)));
}

inline float max_abs(std::span<const float> w) {
  float m = 0.0f;
  for (float v : w) m = std::max(m, std::fabs(v));
  return m;
}

// Error unless `v` stays finite when stored as `e` (f16 or bf16); `index` names the value.
Status check_half_range(float v, Encoding e, uint64_t index);

// Encoders write into a zeroed, layout-sized payload; inputs are finite and counts already
// match the values. Decoders read a payload validate_payload accepted and write every
// element of `out` (rows * cols). Validators run the encoding's checks of SPEC.md 6.5.
Status encode_dense(const TensorDesc& d, const TensorLayout& l, std::span<const float> values,
                    std::span<uint8_t> payload);
void decode_dense(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload,
                  std::span<float> out);

Status encode_q8(const TensorDesc& d, const TensorLayout& l, std::span<const float> values,
                 std::span<uint8_t> payload);
void decode_q8(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload,
               std::span<float> out);

Status encode_q4(const TensorDesc& d, const TensorLayout& l, std::span<const float> values,
                 std::span<uint8_t> payload);
void decode_q4(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload,
               std::span<float> out);

// Scales (and q4 mins) must be finite; `what` ("q8 scale") starts the message.
Status validate_scales(std::span<const uint8_t> payload, const Section& s, uint64_t groups_per_row,
                       const char* what);

uint64_t count_csr_entries(std::span<const float> values);
Status encode_csr(const TensorDesc& d, const TensorLayout& l, std::span<const float> values,
                  std::span<uint8_t> payload);
void decode_csr(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload,
                std::span<float> out);
Status validate_csr(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload);

uint64_t count_bsr_blocks(const TensorDesc& d, std::span<const float> values);
Status encode_bsr(const TensorDesc& d, const TensorLayout& l, std::span<const float> values,
                  std::span<uint8_t> payload);
void decode_bsr(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload,
                std::span<float> out);
Status validate_bsr(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload);

// bitmap: `count` (nnz) is the number of set mask bits, so the encoder needs no count pass
// beyond csr's.
Status encode_bitmap(const TensorDesc& d, const TensorLayout& l, std::span<const float> values,
                     std::span<uint8_t> payload);
void decode_bitmap(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload,
                   std::span<float> out);
Status validate_bitmap(const TensorDesc& d, const TensorLayout& l,
                       std::span<const uint8_t> payload);

// The CSR invariants over a compressed index (CSR rows, or BSR block rows): pointers start
// at 0, never decrease, stay within and end at `count`; indices are `< inner` and strictly
// increasing within each outer row. Reads nothing outside the two sections.
struct CompressedIndexNames {
  const char* ptr;    // "csr row_ptr"
  const char* idx;    // "csr col_idx"
  const char* outer;  // "row"
};
Status validate_compressed_index(std::span<const uint8_t> payload, const TensorLayout& l,
                                 uint64_t outer, uint64_t inner, uint64_t count,
                                 const CompressedIndexNames& names);

}  // namespace sparq::formats::codec
