// The x86 expanded GEMMs of the prefill path (BitmapExpandedGemmTile, kernels/bitmap_gemm.h),
// one template over the level's int8 dot product (the Dot policies of
// kernels/avx2/s8_expanded_bitmap_gemm__avx2.cpp and
// kernels/avx512vnni/u8_expanded_bitmap_gemm__avx512vnni.cpp). One X row per 32-bit
// lane, NV vectors of them, against NR weight rows broadcast 4 bytes at a time: per step
// NV loads and NR broadcasts feed NR·NV dot products (the dense GEMMs' scheme with X and W
// swapped, so the expansion writes plain rows and only X, once per call, is interleaved).
//
// The header's lanes are kept by visiting the groups lane by lane: lane l takes groups
// l, l + 8, ... in increasing order into one register accumulator per (weight row, X
// vector), then parks it; the 8 parked lanes are combined in the fixed order at the end.
// Internal linkage: each level compiles its own copy with its own flags.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/bitmap_gemm.h"

namespace sparq::kernels {
namespace {

// Dot provides: F (the F32xN vector type), I (its int32 vector), W (a prepared weight
// broadcast); zero(), load_x(p) (one step of lanes of X), weight(p) (4 weight bytes to
// every lane), dot(acc, W, I) (acc + the 4-byte dot products per lane, exact), and
// group_value(dot, sums) (d_j of the header per lane, as float: the u8 kernels take off
// 128 · Σqx there).
template <class Dot, size_t NR, size_t NV>
void expanded_bitmap_gemm_x86(const BitmapExpandedGemmTile& t) {
  using F = typename Dot::F;
  using I = typename Dot::I;
  constexpr size_t kLanes = F::width, MR = kLanes * NV;
  const uint8_t* w[NR];
  const float* scales[NR];
  for (size_t r = 0; r < NR; ++r) {
    const size_t row = std::min(r, t.rows - 1);
    w[r] = t.w + row * t.w_stride;
    scales[r] = t.scales + row * t.groups;
  }
  typename F::reg lanes[kBitmapGroupLanes][NR][NV];
  for (size_t l = 0; l < kBitmapGroupLanes; ++l) {
    typename F::reg acc[NR][NV];
    for (size_t r = 0; r < NR; ++r)
      for (size_t v = 0; v < NV; ++v) acc[r][v] = F::set1(0.0f);
    for (size_t j = l; j < t.groups; j += kBitmapGroupLanes) {
      I dot[NR][NV];
      for (size_t r = 0; r < NR; ++r)
        for (size_t v = 0; v < NV; ++v) dot[r][v] = Dot::zero();
      const size_t s_end = std::min(t.steps, (j + 1) * t.group_steps);
      for (size_t s = j * t.group_steps; s < s_end; ++s) {
        const int8_t* xs = t.x + s * 4 * MR;
        I x[NV];
        for (size_t v = 0; v < NV; ++v) x[v] = Dot::load_x(xs + 4 * kLanes * v);
        for (size_t r = 0; r < NR; ++r) {
          const typename Dot::W wb = Dot::weight(w[r] + 4 * s);
          for (size_t v = 0; v < NV; ++v) dot[r][v] = Dot::dot(dot[r][v], wb, x[v]);
        }
      }
      for (size_t r = 0; r < NR; ++r) {
        const typename F::reg sw = F::set1(scales[r][j]);
        for (size_t v = 0; v < NV; ++v)
          acc[r][v] = F::fma(sw, Dot::group_value(dot[r][v], t.x_sums + j * MR + kLanes * v),
                             acc[r][v]);
      }
    }
    for (size_t r = 0; r < NR; ++r)
      for (size_t v = 0; v < NV; ++v) lanes[l][r][v] = acc[r][v];
  }
  alignas(64) float y[kLanes];
  for (size_t v = 0; v < NV && kLanes * v < t.mr; ++v) {
    const typename F::reg sx = F::load(t.x_scale + kLanes * v);
    const size_t live = std::min(kLanes, t.mr - kLanes * v);
    for (size_t r = 0; r < t.rows; ++r) {
      const auto lane = [&](size_t l) { return lanes[l][r][v]; };
      // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), the header's order.
      const typename F::reg sum =
          F::add(F::add(F::add(lane(0), lane(4)), F::add(lane(2), lane(6))),
                 F::add(F::add(lane(1), lane(5)), F::add(lane(3), lane(7))));
      F::store(y, F::fma(sx, sum, F::set1(t.bias ? t.bias[r] : 0.0f)));
      for (size_t i = 0; i < live; ++i) t.y[(kLanes * v + i) * t.y_stride + r] = y[i];
    }
  }
}

}  // namespace
}  // namespace sparq::kernels
