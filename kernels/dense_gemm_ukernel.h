// The microkernel contract of the dense-GEMM family: each call computes one tile of at
// most MR rows x NR outputs over the whole of k, reading one packed weight panel
// (kernels/pack_dense.h). Edges: rows >= mr and columns >= nr are neither read from X nor
// written to Y (kernels may compute them on padding). Names follow
// <type>_gemm_<MR>x<NR>__<isa>, and <type>_gemv_<MR>x<NR>__<isa> for the bandwidth-bound
// decode kernels that compute exactly mr <= MR rows; the config
// (kernels/dense_gemm_config.h) pairs each with its packing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sparq::kernels {

// Float tile: f32 activations times weights of element type W, in f32 arithmetic. W is
// float, or the bit pattern of an IEEE binary16 (f16) or bfloat16 (bf16) value, which the
// kernel widens exactly to f32 as it loads the panel.
template <class W>
struct FloatGemmTile {
  size_t mr, nr, k;
  const float* x;  // row i at x + i * x_stride
  size_t x_stride;
  const W* w;      // panel: k steps of NR values
  const float* bias;  // nr floats, or null
  float* y;
  size_t y_stride;
};
using F32GemmTile = FloatGemmTile<float>;
using HalfGemmTile = FloatGemmTile<uint16_t>;  // f16 or bf16 panels
using F32GemmUkernel = void (*)(const F32GemmTile&);
using HalfGemmUkernel = void (*)(const HalfGemmTile&);

// Integer tile. Activations are int8, each group padded with zeros to group_stride bytes;
// row-major rows of groups·group_stride bytes starting at x, x_stride apart.
// Weights store u = q + zero_point per element (u8 or s8 per packing); the kernel forms
// d = Σ u·x − zero_point · Σx per group, exactly, in int32, and
// y = x_scale · Σ_g (w_scale·d + w_min·Σx) + bias.
struct QGemmTile {
  size_t mr, nr;
  const int8_t* x;
  size_t x_stride;
  const float* x_scale;   // mr floats
  const int32_t* x_sum;   // row i, group g at x_sum[i * x_sum_stride + g]
  size_t x_sum_stride;
  const uint8_t* w;       // the packed panel
  const float* w_scale;   // groups x NR
  const float* w_min;     // groups x NR, or null (all but asymmetric q4)
  size_t groups, group_stride;
  int32_t zero_point;
  const float* bias;      // nr floats, or null
  float* y;
  size_t y_stride;
};
using QGemmUkernel = void (*)(const QGemmTile&);

// A tile's activation rows and their group sums for an MR-row kernel: rows past mr repeat
// the last real one, so the kernel runs all MR rows without branches (their outputs are never
// written). Internal linkage: every ISA level compiles its own copy with its own flags.
template <size_t MR>
struct QTileRows {
  const int8_t* x[MR];
  const int32_t* sums[MR];
};
template <size_t MR>
static inline QTileRows<MR> q_tile_rows(const QGemmTile& t) {
  QTileRows<MR> rows;
  for (size_t i = 0; i < MR; ++i) {
    const size_t row = i < t.mr ? i : t.mr - 1;
    rows.x[i] = t.x + row * t.x_stride;
    rows.sums[i] = t.x_sum + row * t.x_sum_stride;
  }
  return rows;
}

// Quantizes one activation row to int8 (the rule in kernels/dense_gemm.h) with its scale
// and per-group sums. Groups of `group` values are padded with zeros to group_stride, so
// the row takes groups·group_stride bytes.
using QuantizeRowFn = void (*)(const float* x, size_t k, size_t group, size_t group_stride,
                               int8_t* q, int32_t* sums, float* scale);
void q8_quantize_row__ref(const float* x, size_t k, size_t group, size_t group_stride,
                          int8_t* q, int32_t* sums, float* scale);
void q8_quantize_row__avx2(const float* x, size_t k, size_t group, size_t group_stride,
                           int8_t* q, int32_t* sums, float* scale);
void q8_quantize_row__avx512(const float* x, size_t k, size_t group, size_t group_stride,
                             int8_t* q, int32_t* sums, float* scale);

// Portable scalar kernels (the `ref` level's packed path).
void f32_gemm_4x8__ref(const F32GemmTile& t);
void f16_gemm_4x8__ref(const HalfGemmTile& t);
void bf16_gemm_4x8__ref(const HalfGemmTile& t);
void q8_gemm_4x8__ref(const QGemmTile& t);
void q4_gemm_4x8__ref(const QGemmTile& t);

// x86-64
void f32_gemm_6x16__avx2(const F32GemmTile& t);
void f16_gemm_6x16__avx2(const HalfGemmTile& t);
void bf16_gemm_6x16__avx2(const HalfGemmTile& t);
void f16_gemv_4x16__avx2(const HalfGemmTile& t);
void bf16_gemv_4x16__avx2(const HalfGemmTile& t);
void q8_gemm_4x16__avx2(const QGemmTile& t);
void q4_gemm_4x16__avx2(const QGemmTile& t);
void f32_gemm_8x32__avx512(const F32GemmTile& t);
void f16_gemm_8x32__avx512(const HalfGemmTile& t);
void bf16_gemm_8x32__avx512(const HalfGemmTile& t);
void f16_gemv_4x32__avx512(const HalfGemmTile& t);
void bf16_gemv_4x32__avx512(const HalfGemmTile& t);
void q8_gemm_8x32__avx512vnni(const QGemmTile& t);
void q8_gemm_4x32__avx512vnni(const QGemmTile& t);
void q4_gemm_6x32__avx512vnni(const QGemmTile& t);
void q4_gemm_4x32__avx512vnni(const QGemmTile& t);
void q8_gemm_32x32__amx(const QGemmTile& t);
// The same AMX kernel with every tile instruction executed by kernels/ref/amx_tile_emulator.h.
void q8_gemm_32x32__amx_emulated(const QGemmTile& t);

// aarch64
void f32_gemm_6x16__neon(const F32GemmTile& t);
void f16_gemm_6x16__neon(const HalfGemmTile& t);
void bf16_gemm_6x16__neon(const HalfGemmTile& t);
void f16_gemv_4x16__neon(const HalfGemmTile& t);
void bf16_gemv_4x16__neon(const HalfGemmTile& t);
void q8_gemm_4x16__neon(const QGemmTile& t);
void q4_gemm_4x16__neon(const QGemmTile& t);
void q8_gemm_4x16__neon_dotprod(const QGemmTile& t);
void q4_gemm_4x16__neon_dotprod(const QGemmTile& t);

}  // namespace sparq::kernels
