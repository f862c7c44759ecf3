// Encoding and decoding of stored keys and values (kernels/transformer_ops.h), one
// implementation for every ISA: a decode step encodes a handful of vectors, and decode_kv is
// the scalar reference's definition of what f16 and q8 vectors hold.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "formats/float16.h"
#include "kernels/q8_inverse_scale.h"
#include "kernels/transformer_ops.h"

namespace sparq::kernels {

namespace {

// Round to nearest, saturating; NaN (the model is broken anyway) gives -127, not UB.
int8_t q8_value(float x, float inv_scale) {
  const float r = std::nearbyint(x * inv_scale);
  return r >= 127.0f ? int8_t{127} : r > -127.0f ? static_cast<int8_t>(r) : int8_t{-127};
}

}  // namespace

const char* kv_encoding_name(KvEncoding e) {
  switch (e) {
    case KvEncoding::f32: return "f32";
    case KvEncoding::f16: return "f16";
    case KvEncoding::q8: return "q8";
  }
  return "?";
}

size_t kv_value_bytes(KvEncoding e) {
  switch (e) {
    case KvEncoding::f32: return sizeof(float);
    case KvEncoding::f16: return sizeof(uint16_t);
    case KvEncoding::q8: return sizeof(int8_t);
  }
  return 0;
}

void encode_kv(KvEncoding e, size_t count, size_t head_dim, const float* x, void* values,
               float* scales, size_t first) {
  const size_t n = count * head_dim, at = first * head_dim;
  switch (e) {
    case KvEncoding::f32:
      std::memcpy(static_cast<float*>(values) + at, x, n * sizeof(float));
      return;
    case KvEncoding::f16: {
      uint16_t* out = static_cast<uint16_t*>(values) + at;
      for (size_t i = 0; i < n; ++i) out[i] = f32_to_f16(x[i]);
      return;
    }
    case KvEncoding::q8:
      for (size_t v = 0; v < count; ++v) {
        const float* xv = x + v * head_dim;
        int8_t* out = static_cast<int8_t*>(values) + at + v * head_dim;
        float amax = 0.0f;
        for (size_t d = 0; d < head_dim; ++d) amax = std::max(amax, std::fabs(xv[d]));
        // Multiplying by the reciprocal, as the activations' q8_quantize_row does.
        const float inv = q8_inverse_scale(amax);
        scales[first + v] = amax / 127.0f;
        for (size_t d = 0; d < head_dim; ++d) out[d] = q8_value(xv[d], inv);
      }
      return;
  }
}

void decode_kv(KvEncoding e, const KvRows& rows, size_t index, size_t head_dim, float* out) {
  const size_t at = index * head_dim;
  switch (e) {
    case KvEncoding::f32:
      std::memcpy(out, static_cast<const float*>(rows.values) + at, head_dim * sizeof(float));
      return;
    case KvEncoding::f16: {
      const uint16_t* in = static_cast<const uint16_t*>(rows.values) + at;
      for (size_t d = 0; d < head_dim; ++d) out[d] = f16_to_f32(in[d]);
      return;
    }
    case KvEncoding::q8: {
      const int8_t* in = static_cast<const int8_t*>(rows.values) + at;
      const float scale = rows.scales[index];
      for (size_t d = 0; d < head_dim; ++d) out[d] = scale * static_cast<float>(in[d]);
      return;
    }
  }
}

}  // namespace sparq::kernels
