// The AMX-INT8 dense kernel, written once over a tile-operation interface so that the
// same code runs on the hardware (NativeTiles) and on the emulator (EmulatedTiles).
//
// It computes the tile transposed, Yᵀ = W·Xᵀ, so that weights are tdpbusd's unsigned A
// operand (q8 + 128) and activations the signed B operand, like the VNNI kernels; the
// group loop and the zero-point / minimum terms are general, as the tile contract asks. Tiles: C0..C3 = 2 x 2 blocks of 16 outputs x 16 tokens (int32), A4/A5 =
// the panel's two 16-output halves x 64 columns, B6/B7 = 64 columns of 16 tokens in the
// B-tile order the driver quantizes into (x_interleave = 16).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/amx/tile_emulator.h"
#include "kernels/dense_gemm_ukernel.h"

namespace sparq::kernels::amx {

template <class Tiles>
void q_gemm_32x32(const QGemmTile& t) {
  constexpr size_t MR = 32, NR = 32, KC = 64, kHalf = 16;
  TileConfig cfg;
  cfg.palette = 1;
  for (int i = 0; i < kTiles; ++i) {
    cfg.rows[i] = kMaxRows;
    cfg.colsb[i] = kMaxColsb;
  }
  Tiles::config(cfg);

  const bool two_blocks = t.mr > kHalf;
  const int8_t* x0 = t.x;
  const int8_t* x1 = t.x + kHalf * t.x_stride;
  alignas(64) float acc[NR][MR] = {};  // output-major, so the epilogue runs along tokens
  alignas(64) int32_t c[2][2][kHalf][kHalf];  // [output half][token block][output][token]
  const uint8_t* w = t.w;
  for (size_t g = 0; g < t.groups; ++g) {
    Tiles::template zero<0>();
    Tiles::template zero<1>();
    Tiles::template zero<2>();
    Tiles::template zero<3>();
    for (size_t kk = 0; kk < t.group_stride; kk += KC, w += NR * KC) {
      const size_t x_off = (g * t.group_stride + kk) / 4 * 64;
      Tiles::template load<4>(w, KC);
      Tiles::template load<5>(w + kHalf * KC, KC);
      Tiles::template load<6>(x0 + x_off, 64);
      Tiles::template dpbusd<0, 4, 6>();
      Tiles::template dpbusd<2, 5, 6>();
      if (two_blocks) {
        Tiles::template load<7>(x1 + x_off, 64);
        Tiles::template dpbusd<1, 4, 7>();
        Tiles::template dpbusd<3, 5, 7>();
      }
    }
    Tiles::template store<0>(c[0][0], 64);
    Tiles::template store<2>(c[1][0], 64);
    if (two_blocks) {
      Tiles::template store<1>(c[0][1], 64);
      Tiles::template store<3>(c[1][1], 64);
    }

    int32_t zero_point_sum[MR];
    float x_sum[MR];
    for (size_t i = 0; i < MR; ++i) {
      const int32_t s = t.x_sum[std::min(i, t.mr - 1) * t.x_sum_stride + g];
      zero_point_sum[i] = t.zero_point * s;
      x_sum[i] = float(s);
    }
    const float* sw = t.w_scale + g * NR;
    const float* mw = t.w_min ? t.w_min + g * NR : nullptr;
    for (size_t half = 0; half < 2; ++half) {
      for (size_t b = 0; b < (two_blocks ? 2u : 1u); ++b) {
        for (size_t j = 0; j < kHalf; ++j) {
          const size_t out = half * kHalf + j;
          float* a = acc[out] + b * kHalf;
          const int32_t* d = c[half][b][j];
          const int32_t* zs = zero_point_sum + b * kHalf;
          for (size_t i = 0; i < kHalf; ++i) a[i] += sw[out] * float(d[i] - zs[i]);
          if (mw) {
            for (size_t i = 0; i < kHalf; ++i) a[i] += mw[out] * x_sum[b * kHalf + i];
          }
        }
      }
    }
  }
  Tiles::release();

  for (size_t i = 0; i < t.mr; ++i) {
    float* y = t.y + i * t.y_stride;
    for (size_t j = 0; j < t.nr; ++j) y[j] = acc[j][i] * t.x_scale[i] + (t.bias ? t.bias[j] : 0.0f);
  }
}

}  // namespace sparq::kernels::amx
