#include "kernels/pack_dense.h"

#include <algorithm>
#include <string>

namespace sparq::kernels {
namespace {

// The float panel layout for values of any width: row-major n x k in, panels of nr rows
// out, column by column.
template <class T>
AlignedArray<T> pack_panels(const T* values, size_t n, size_t k, size_t nr) {
  AlignedArray<T> panels((n + nr - 1) / nr * k * nr);
  for (size_t row = 0; row < n; ++row) {
    T* panel = panels.data() + (row / nr) * k * nr + row % nr;
    for (size_t col = 0; col < k; ++col) panel[col * nr] = values[row * k + col];
  }
  return panels;
}

std::unique_ptr<PackedDenseWeights::Storage> pack_float(const DenseWeightsView& w,
                                                        const DenseGemmConfig& config) {
  auto s = std::make_unique<PackedDenseWeights::Storage>();
  s->nr = w.type == DenseType::f32    ? config.f32.nr
          : w.type == DenseType::f16 ? config.f16.nr
                                      : config.bf16.nr;
  s->panels = (w.n + s->nr - 1) / s->nr;
  if (w.type == DenseType::f32) {
    s->f32 = pack_panels(w.f32, w.n, w.k, s->nr);
  } else {
    s->halves = pack_panels(w.halves, w.n, w.k, s->nr);
  }
  return s;
}

// q as the kernel stores it: q8 int8 bits, optionally biased by 128; q4 the raw nibble.
uint8_t stored_value(const DenseWeightsView& w, const DensePacking& p, size_t row, size_t col) {
  if (w.type == DenseType::q8) {
    const int8_t q = static_cast<int8_t>(w.values[row * w.k + col]);
    return p.q8_unsigned ? uint8_t(q + 128) : uint8_t(q);
  }
  const uint8_t byte = w.values[row * ((w.k + 1) / 2) + col / 2];
  return col % 2 == 0 ? byte & 0x0F : byte >> 4;
}

std::unique_ptr<PackedDenseWeights::Storage> pack_quantized(const DenseWeightsView& w,
                                                            const DensePacking& p) {
  auto s = std::make_unique<PackedDenseWeights::Storage>();
  const size_t nr = p.nr, kc = p.kc;
  const bool nibbles = w.type == DenseType::q4 && p.q4_nibbles;
  s->nr = nr;
  s->panels = (w.n + nr - 1) / nr;
  s->group = w.group;
  s->groups = w.groups();
  s->group_stride = (w.group + p.group_align - 1) / p.group_align * p.group_align;
  s->zero_point = w.type == DenseType::q8 ? (p.q8_unsigned ? 128 : 0) : (w.asymmetric ? 0 : 8);
  const size_t chunk_bytes = nibbles ? nr * kc / 2 : nr * kc;
  const size_t group_bytes = s->group_stride / kc * chunk_bytes;
  s->panel_bytes = s->groups * group_bytes;
  s->values = AlignedArray<uint8_t>(s->panels * s->panel_bytes);
  s->scales = AlignedArray<float>(s->panels * s->groups * nr);
  if (w.asymmetric) s->mins = AlignedArray<float>(s->panels * s->groups * nr);

  for (size_t row = 0; row < w.n; ++row) {
    const size_t panel = row / nr, lane = row % nr;
    uint8_t* base = s->values.data() + panel * s->panel_bytes;
    for (size_t col = 0; col < w.k; ++col) {
      const size_t g = col / w.group, in_group = col % w.group;
      const size_t chunk = in_group / kc, i = in_group % kc;
      uint8_t* at = base + g * group_bytes + chunk * chunk_bytes;
      const uint8_t u = stored_value(w, p, row, col);
      if (nibbles) {
        at += lane * (kc / 2) + i % (kc / 2);
        *at |= i < kc / 2 ? u : uint8_t(u << 4);
      } else {
        at[lane * kc + i] = u;
      }
    }
    for (size_t g = 0; g < s->groups; ++g) {
      s->scales[(panel * s->groups + g) * nr + lane] = w.scales[row * s->groups + g];
      if (w.asymmetric) s->mins[(panel * s->groups + g) * nr + lane] = w.mins[row * s->groups + g];
    }
  }
  return s;
}

}  // namespace

Result<PackedDenseWeights> pack_dense_weights(const DenseWeightsView& w,
                                              const DenseGemmConfig& config) {
  if (w.n == 0 || w.k == 0) return Error("dense weights: empty matrix");
  std::unique_ptr<PackedDenseWeights::Storage> s;
  if (dense_type_is_float(w.type)) {
    s = pack_float(w, config);
  } else {
    if (w.group == 0 || w.group > kMaxIntGroup) {
      return Error("dense weights: group of " + std::to_string(w.group) +
                   " columns is outside 1.." + std::to_string(kMaxIntGroup) +
                   " (int32 accumulator headroom)");
    }
    s = pack_quantized(w, w.type == DenseType::q8 ? config.q8_for_group(w.group).packing : config.q4.packing);
  }
  s->config = &config;
  s->type = w.type;
  s->n = w.n;
  s->k = w.k;
  return PackedDenseWeights(std::move(s));
}

Result<PackedDenseWeights> pack_dense_weights(const DenseWeightsView& w) {
  return pack_dense_weights(w, dense_gemm_config());
}

PackedDenseWeights::PackedDenseWeights() = default;
PackedDenseWeights::PackedDenseWeights(std::unique_ptr<Storage> s) : s_(std::move(s)) {}
PackedDenseWeights::PackedDenseWeights(PackedDenseWeights&&) noexcept = default;
PackedDenseWeights& PackedDenseWeights::operator=(PackedDenseWeights&&) noexcept = default;
PackedDenseWeights::~PackedDenseWeights() = default;

DenseType PackedDenseWeights::type() const { return s_->type; }
size_t PackedDenseWeights::n() const { return s_->n; }
size_t PackedDenseWeights::k() const { return s_->k; }
Isa PackedDenseWeights::isa() const { return s_->config->isa; }
size_t PackedDenseWeights::packed_bytes() const {
  return s_->f32.size() * sizeof(float) + s_->halves.size() * sizeof(uint16_t) + s_->values.size() +
         (s_->scales.size() + s_->mins.size()) * sizeof(float);
}

}  // namespace sparq::kernels
