// The AMX-INT8 dense kernel, written once over a tile-operation interface so that the
// same code runs on the hardware (NativeTiles, kernels/amx/) and on the emulator
// (EmulatedTiles, kernels/avx512vnni/: the epilogue is AVX-512 code and the emulated config
// keeps the VNNI GEMV).
//
// One call covers up to the config's mr rows (tokens) of X against one 32-output weight
// panel, in blocks of 32 rows x 32 outputs: C0..C3 = 2 x 2 accumulator tiles of 16 tokens
// x 16 outputs (int32), A4/A5 = two 16-token x 64-column activation tiles (row-major
// int8), B6/B7 = the panel's two 16-output halves x 64 columns in the
// VNNI-interleaved order the packing already has (per 4 columns, 32 outputs x 4 bytes:
// rows 128 bytes apart). Activations are the signed operand and weights the unsigned one
// (q8 + 128), so the instruction is tdpbsud and C comes out token-major: the epilogue
// writes 16 outputs of a token per vector. The tiles are configured once per call (once
// more for a ragged last block of rows); the group loop and the zero-point / minimum
// terms are general, as the tile contract asks.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/ref/amx_tile_emulator.h"
#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels::amx {
// Internal linkage: the amx level and the avx512vnni level (the emulated kernel) each compile
// their own copy, and neither may be the one the linker keeps for the other.
namespace {

inline constexpr size_t kBlockRows = 32, kPanelOutputs = 32, kTileK = 64, kTileRows = 16;
inline constexpr size_t kStreamRows = 128;

// rows 1..32 of a block: the first 16 on C0/C1/A4, the rest on C2/C3/A5.
inline TileConfig block_tile_config(size_t rows) {
  const uint8_t upper = uint8_t(std::min(rows, kTileRows));
  const uint8_t lower = uint8_t(rows - upper);
  TileConfig cfg;
  cfg.palette = 1;
  const uint8_t tile_rows[kTiles] = {upper, upper, lower, lower, upper, lower, kTileRows, kTileRows};
  for (int i = 0; i < kTiles; ++i) {
    cfg.rows[i] = tile_rows[i];
    cfg.colsb[i] = tile_rows[i] ? kMaxColsb : 0;
  }
  return cfg;
}

// Σ over one group of 32 rows x 32 outputs into C0..C3 (C2/C3 only with `lower`).
template <class Tiles, bool kLower>
void accumulate_group(const int8_t* x, size_t x_stride, const uint8_t* w, size_t group_stride) {
  constexpr size_t kPanelRowBytes = kPanelOutputs * 4;
  Tiles::template zero<0>();
  Tiles::template zero<1>();
  if constexpr (kLower) {
    Tiles::template zero<2>();
    Tiles::template zero<3>();
  }
  const int8_t* x1 = x + kTileRows * x_stride;
  for (size_t kk = 0; kk < group_stride; kk += kTileK) {
    const uint8_t* wk = w + kk / 4 * kPanelRowBytes;
    Tiles::template load<4>(x + kk, x_stride);
    Tiles::template load<6>(wk, kPanelRowBytes);
    Tiles::template dpbsud<0, 4, 6>();
    Tiles::template load<7>(wk + 64, kPanelRowBytes);
    Tiles::template dpbsud<1, 4, 7>();
    if constexpr (kLower) {
      Tiles::template load<5>(x1 + kk, x_stride);
      Tiles::template dpbsud<2, 5, 6>();
      Tiles::template dpbsud<3, 5, 7>();
    }
  }
}

// The epilogue reads the C tiles back from the buffer the tile stores wrote; GCC's
// uninitialised-use analysis does not see writes made by an asm statement or the emulator.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
template <class Tiles>
void q8_gemm_32x32(const QGemmTile& t) {
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  __mmask16 col_mask[2];
  for (size_t h = 0; h < 2; ++h) {
    const int cols = int(std::min(t.nr, (h + 1) * kTileRows)) - int(h * kTileRows);
    col_mask[h] = _mm512_cmplt_epi32_mask(lane, _mm512_set1_epi32(cols));
  }
  __m512 bias[2];
  for (size_t h = 0; h < 2; ++h) {
    bias[h] = t.bias ? _mm512_maskz_loadu_ps(col_mask[h], t.bias + h * kTileRows) : _mm512_setzero_ps();
  }

  // An output of this many rows (encoder batches, prefill) is larger than L2 at model
  // widths, so it goes to memory anyway: streaming stores skip reading each line first,
  // which otherwise doubles the output traffic.
  const bool stream = t.mr >= kStreamRows;

  size_t configured_rows = kBlockRows;
  Tiles::config(block_tile_config(kBlockRows));
  for (size_t m0 = 0; m0 < t.mr; m0 += kBlockRows) {
    const size_t rows = std::min(kBlockRows, t.mr - m0);
    if (rows != configured_rows) {
      Tiles::config(block_tile_config(rows));
      configured_rows = rows;
    }
    const int8_t* x = t.x + m0 * t.x_stride;
    alignas(64) int32_t c[4][kTileRows][kTileRows];  // C tiles: [tile][token][output]
    alignas(64) float acc[kBlockRows][kPanelOutputs];  // groups > 1: the sum so far
    for (size_t g = 0; g < t.groups; ++g) {
      const size_t k0 = g * t.group_stride;
      const uint8_t* w = t.w + k0 * kPanelOutputs;
      if (rows > kTileRows) {
        accumulate_group<Tiles, true>(x + k0, t.x_stride, w, t.group_stride);
        Tiles::template store<2>(c[2], 64);
        Tiles::template store<3>(c[3], 64);
      } else {
        accumulate_group<Tiles, false>(x + k0, t.x_stride, w, t.group_stride);
      }
      Tiles::template store<0>(c[0], 64);
      Tiles::template store<1>(c[1], 64);

      const bool last = g + 1 == t.groups;
      for (size_t i = 0; i < rows; ++i) {
        const size_t row = m0 + i;
        const int32_t s = t.x_sum[row * t.x_sum_stride + g];
        const __m512i zero_point_sum = _mm512_set1_epi32(t.zero_point * s);
        const __m512 x_scale = _mm512_set1_ps(t.x_scale[row]);
        for (size_t h = 0; h < 2; ++h) {
          const int32_t* d = c[i / kTileRows * 2 + h][i % kTileRows];
          const size_t out = g * kPanelOutputs + h * kTileRows;
          __m512 f = _mm512_mul_ps(
              _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_load_si512(d), zero_point_sum)),
              _mm512_loadu_ps(t.w_scale + out));
          if (t.w_min) f = _mm512_fmadd_ps(_mm512_loadu_ps(t.w_min + out), _mm512_set1_ps(float(s)), f);
          if (g > 0) f = _mm512_add_ps(f, _mm512_load_ps(acc[i] + h * kTileRows));
          if (!last) {
            _mm512_store_ps(acc[i] + h * kTileRows, f);
          } else if (col_mask[h]) {
            float* out = t.y + row * t.y_stride + h * kTileRows;
            const __m512 v = _mm512_fmadd_ps(f, x_scale, bias[h]);
            if (stream && col_mask[h] == 0xFFFF && (reinterpret_cast<uintptr_t>(out) & 63) == 0) {
              _mm512_stream_ps(out, v);
            } else {
              _mm512_mask_storeu_ps(out, col_mask[h], v);
            }
          }
        }
      }
    }
  }
  Tiles::release();
  if (stream) _mm_sfence();  // streamed rows visible before the caller reads Y
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace
}  // namespace sparq::kernels::amx
