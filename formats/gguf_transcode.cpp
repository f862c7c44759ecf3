#include "formats/gguf_transcode.h"

#include <cstring>

#include <fmt/core.h>

#include "formats/float16.h"
#include "formats/gguf_quants.h"

namespace sparq::formats {
namespace {

float half_at(const uint8_t* p) { return f16_to_f32(static_cast<uint16_t>(p[0] | p[1] << 8)); }

// Writes one group after another into a q8 or q4 payload: its scale (and min), then its
// integer codes as the sparq encoding stores them (q8: the signed value; q4: the 0..15 code).
class GroupWriter {
 public:
  GroupWriter(const TensorDesc& desc, const TensorLayout& layout, std::vector<uint8_t>& payload)
      : desc_(desc), layout_(layout), payload_(payload), group_(desc.group_size) {}

  void put(float scale, float min, const int* codes) {
    const uint64_t row = next_ / layout_.groups_per_row, j = next_ % layout_.groups_per_row;
    std::memcpy(&payload_[layout_.scales.offset + 4 * next_], &scale, 4);
    if (desc_.asymmetric) std::memcpy(&payload_[layout_.mins.offset + 4 * next_], &min, 4);
    for (uint32_t k = 0; k < group_; ++k) {
      const uint64_t col = j * group_ + k;
      if (desc_.encoding == Encoding::q8) {
        payload_[layout_.values.offset + row * desc_.cols() + col] = static_cast<uint8_t>(static_cast<int8_t>(codes[k]));
      } else {
        uint8_t& byte = payload_[layout_.values.offset + row * ((desc_.cols() + 1) / 2) + col / 2];
        byte = static_cast<uint8_t>(byte | (codes[k] & 0x0F) << (col % 2 ? 4 : 0));
      }
    }
    ++next_;
  }

 private:
  const TensorDesc& desc_;
  const TensorLayout& layout_;
  std::vector<uint8_t>& payload_;
  uint32_t group_;
  uint64_t next_ = 0;
};

// One ggml block as groups of sparq's group size, in value order.
void put_q8_0(const uint8_t* b, GroupWriter& w) {
  int q[32];
  for (int k = 0; k < 32; ++k) q[k] = static_cast<int8_t>(b[2 + k]);
  w.put(half_at(b), 0.0f, q);
}

void put_q4_0(const uint8_t* b, GroupWriter& w) {
  int q[32];
  for (int k = 0; k < 16; ++k) q[k] = b[2 + k] & 0x0F, q[k + 16] = b[2 + k] >> 4;
  w.put(half_at(b), 0.0f, q);
}

// As decode_q4_k: sub-block 2i is the low nibbles of 32 bytes, 2i+1 their high nibbles; the
// scale and offset are the same f32 products ggml forms, so q·scale + min rounds as
// d1·q − m1 does (adding −m1 is subtracting m1).
void put_q4_k(const uint8_t* b, GroupWriter& w) {
  const float d = half_at(b), dmin = half_at(b + 2);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    ggml_k_scale_min(j, b + 4, &sc, &m);
    const uint8_t* qs = b + 16 + 32 * (j / 2);
    int q[32];
    for (int k = 0; k < 32; ++k) q[k] = j % 2 ? qs[k] >> 4 : qs[k] & 0x0F;
    w.put(d * static_cast<float>(sc), -(dmin * static_cast<float>(m)), q);
  }
}

// As decode_q6_k: value 128h + 32k + l (l < 32) has its low four bits in ql[64h + l + 32(k%2)]
// (low nibble for k < 2, high otherwise) and its top two in bits 2k of qh[32h + l]; the 16
// values 16j.. share scales[j].
void put_q6_k(const uint8_t* b, GroupWriter& w) {
  const float d = half_at(b + 208);
  for (int j = 0; j < 16; ++j) {
    const int h = j / 8, k = (j % 8) / 2, l0 = 16 * (j % 2);
    int q[16];
    for (int t = 0; t < 16; ++t) {
      const int l = l0 + t;
      const uint8_t ql = b[64 * h + l + 32 * (k % 2)];
      const int low = k < 2 ? ql & 0x0F : ql >> 4;
      const int high = (b[128 + 32 * h + l] >> (2 * k)) & 3;
      q[t] = (low | high << 4) - 32;
    }
    w.put(d * static_cast<float>(static_cast<int8_t>(b[192 + j])), 0.0f, q);
  }
}

}  // namespace

std::optional<EncodeOptions> exact_sparq_encoding(uint32_t ggml_type) {
  EncodeOptions o;
  switch (static_cast<GgmlType>(ggml_type)) {
    case GgmlType::F32: o.encoding = Encoding::f32; return o;
    case GgmlType::F16: o.encoding = Encoding::f16; return o;
    case GgmlType::BF16: o.encoding = Encoding::bf16; return o;
    case GgmlType::Q8_0: o.encoding = Encoding::q8, o.group_size = 32; return o;
    case GgmlType::Q4_0: o.encoding = Encoding::q4, o.group_size = 32; return o;
    case GgmlType::Q4_K: o.encoding = Encoding::q4, o.group_size = 32, o.asymmetric = true; return o;
    case GgmlType::Q6_K: o.encoding = Encoding::q8, o.group_size = 16; return o;
    default: return std::nullopt;
  }
}

Result<EncodedTensor> transcode_ggml_exact(std::string name, std::vector<uint64_t> dims, uint32_t ggml_type,
                                           std::span<const uint8_t> bytes) {
  const std::optional<EncodeOptions> encoding = exact_sparq_encoding(ggml_type);
  if (!encoding) {
    return Error(fmt::format("type {} has no exact sparq encoding", ggml_type_label(ggml_type)), ErrorKind::unsupported);
  }
  const GgmlTypeInfo& info = *ggml_type_info(ggml_type);
  EncodedTensor out;
  out.desc = describe_encoding(std::move(name), std::move(dims), *encoding);
  const uint64_t elements = out.desc.elements();
  if (out.desc.cols() % info.block_size != 0 || bytes.size() != elements / info.block_size * info.block_bytes) {
    return Error(fmt::format("{} bytes of {} are not the whole blocks of a {} tensor", bytes.size(), info.name,
                             out.desc.shape_string()),
                 ErrorKind::invalid_input);
  }
  auto layout = compute_layout(out.desc);
  if (!layout) return layout.error();
  out.payload.assign(layout->total_size, 0);
  if (encoding->encoding != Encoding::q8 && encoding->encoding != Encoding::q4) {
    // Plain element types: GGUF and sparq both store them row-major, little-endian.
    std::memcpy(out.payload.data(), bytes.data(), bytes.size());
    return out;
  }
  GroupWriter writer(out.desc, *layout, out.payload);
  void (*put)(const uint8_t*, GroupWriter&) = nullptr;
  switch (static_cast<GgmlType>(ggml_type)) {
    case GgmlType::Q8_0: put = put_q8_0; break;
    case GgmlType::Q4_0: put = put_q4_0; break;
    case GgmlType::Q4_K: put = put_q4_k; break;
    default: put = put_q6_k; break;
  }
  for (uint64_t b = 0; b < elements / info.block_size; ++b) put(bytes.data() + b * info.block_bytes, writer);
  return out;
}

}  // namespace sparq::formats
