// The scalar statement of the bitmap kernels' arithmetic (kernels/bitmap_gemm.h): the
// `ref` level's kernels and what every other level is tested against bit for bit.
#include <cmath>

#include "kernels/bitmap_gemm.h"

namespace sparq::kernels {
namespace {

template <BitmapValues kValues>
void bitmap_gemm_ref(const BitmapGemmTile& t) {
  for (size_t r = 0; r < t.rows; ++r) {
    const uint32_t* masks = t.masks + r * t.words_per_row;
    const float* scales = t.scales + r * t.groups;
    float lanes[kBitmapGemmMr][kBitmapGroupLanes] = {};
    uint64_t e = t.first[r];
    for (size_t g = 0; g < t.groups; ++g) {
      int32_t d[kBitmapGemmMr] = {};
      const size_t w_end = std::min(t.words_per_row, (g + 1) * t.words_per_group);
      for (size_t w = g * t.words_per_group; w < w_end; ++w) {
        for (size_t bit = 0; bit < kBitmapWordColumns; ++bit) {
          if ((masks[w] >> bit & 1) == 0) continue;
          const int32_t qw = kValues == BitmapValues::q4
                                 ? (t.values[e / 2] >> (e % 2 * 4) & 0xf) - 8
                                 : static_cast<int8_t>(t.values[e]);
          ++e;
          for (size_t i = 0; i < t.mr; ++i)
            d[i] += qw * t.x[i * t.x_stride + w * kBitmapWordColumns + bit];
        }
      }
      for (size_t i = 0; i < t.mr; ++i) {
        float& lane = lanes[i][g % kBitmapGroupLanes];
        lane = std::fma(scales[g], static_cast<float>(d[i]), lane);
      }
    }
    for (size_t i = 0; i < t.mr; ++i) {
      const float* l = lanes[i];
      const float sum = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
      t.y[i * t.y_stride + r] = std::fma(t.x_scale[i], sum, t.bias ? t.bias[r] : 0.0f);
    }
  }
}

}  // namespace

void q8_bitmap_gemm_4x1__ref(const BitmapGemmTile& t) { bitmap_gemm_ref<BitmapValues::q8>(t); }
void q4_bitmap_gemm_4x1__ref(const BitmapGemmTile& t) { bitmap_gemm_ref<BitmapValues::q4>(t); }

}  // namespace sparq::kernels
