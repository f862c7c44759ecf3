// Packing of dense weights, once at load time, from the portable .sparq encodings into a
// kernel family's panel layout (DensePacking in kernels/dense_gemm_config.h):
//   f32, f16, bf16: per panel of nr outputs, k steps of nr values (zero past n), each
//   value as stored (4 or 2 bytes).
//   q8/q4: per panel, per group (padded to group_stride), per chunk of kc columns, nr
//   outputs x kc values; scales (and asymmetric-q4 minimums) per panel as groups x nr.
// Stored values are u = q + zero_point: q8 signed (zero point 0) or q + 128 as u8; q4
// nibbles as stored (0..15) with zero point 8 when symmetric, 0 with minimums when not.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/aligned_array.h"
#include "kernels/dense_gemm.h"
#include "kernels/dense_gemm_config.h"

namespace sparq::kernels {

struct PackedDenseWeights::Storage {
  const DenseGemmConfig* config = nullptr;
  DenseType type = DenseType::f32;
  size_t n = 0, k = 0;
  size_t nr = 0, panels = 0;
  AlignedArray<float> f32;        // panels x k x nr
  AlignedArray<uint16_t> halves;  // f16/bf16: panels x k x nr
  // q8 / q4
  size_t groups = 0, group = 0, group_stride = 0;
  int32_t zero_point = 0;
  size_t panel_bytes = 0;
  AlignedArray<uint8_t> values;  // panels x panel_bytes
  AlignedArray<float> scales;    // panels x groups x nr
  AlignedArray<float> mins;      // asymmetric q4 only

  const QTypeConfig& qconfig() const { return type == DenseType::q8 ? config->q8_for_group(group) : config->q4; }
  const HalfTypeConfig& half_config() const { return type == DenseType::f16 ? config->f16 : config->bf16; }
};

}  // namespace sparq::kernels
