// Dense encodings: f32, f16, bf16, row-major (SPEC.md section 5).
#include <fmt/format.h>

#include "formats/codec_internal.h"
#include "formats/float16.h"

namespace sparq::formats::codec {

Status check_half_range(float v, Encoding e, uint64_t index) {
  const float stored = e == Encoding::f16 ? f16_to_f32(f32_to_f16(v)) : bf16_to_f32(f32_to_bf16(v));
  if (std::isinf(stored))
    return Error(fmt::format("value {} ({}) overflows {}", index, v, encoding_name(e)));
  return {};
}

Status encode_dense(const TensorDesc& d, const TensorLayout& l, std::span<const float> values,
                    std::span<uint8_t> payload) {
  uint8_t* out = section(payload, l.values);
  for (uint64_t i = 0; i < values.size(); ++i) {
    switch (d.encoding) {
      case Encoding::f32: store(out, i, values[i]); break;
      case Encoding::f16:
      case Encoding::bf16: {
        if (Status s = check_half_range(values[i], d.encoding, i); !s) return s;
        store(out, i, d.encoding == Encoding::f16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]));
        break;
      }
      default: break;
    }
  }
  return {};
}

void decode_dense(const TensorDesc& d, const TensorLayout& l, std::span<const uint8_t> payload,
                  std::span<float> out) {
  const uint8_t* in = section(payload, l.values);
  for (uint64_t i = 0; i < out.size(); ++i) {
    switch (d.encoding) {
      case Encoding::f32: out[i] = load<float>(in, i); break;
      case Encoding::f16: out[i] = f16_to_f32(load<uint16_t>(in, i)); break;
      case Encoding::bf16: out[i] = bf16_to_f32(load<uint16_t>(in, i)); break;
      default: break;
    }
  }
}

}  // namespace sparq::formats::codec
