// The scalar statement of the bitmap kernels' arithmetic (kernels/bitmap_gemm.h): the
// `ref` level's kernels and what every other level is tested against bit for bit. The
// prefill pair (expand, then the expanded GEMM) is the same sums in another loop order.
#include <algorithm>
#include <cmath>

#include "kernels/bitmap_gemm.h"

namespace sparq::kernels {
namespace {

// Stored entry e of the value stream as its signed weight code.
template <BitmapValues kValues>
int32_t stored_weight(const uint8_t* values, uint64_t e) {
  return kValues == BitmapValues::q4 ? (values[e / 2] >> (e % 2 * 4) & 0xf) - 8
                                     : static_cast<int8_t>(values[e]);
}

// t = ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), the order the header fixes.
float combine_group_lanes(const float* l) {
  return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

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
          const int32_t qw = stored_weight<kValues>(t.values, e++);
          for (size_t i = 0; i < t.mr; ++i)
            d[i] += qw * t.x[i * t.x_stride + w * kBitmapWordColumns + bit];
        }
      }
      for (size_t i = 0; i < t.mr; ++i) {
        float& lane = lanes[i][g % kBitmapGroupLanes];
        lane = std::fma(scales[g], static_cast<float>(d[i]), lane);
      }
    }
    for (size_t i = 0; i < t.mr; ++i)
      t.y[i * t.y_stride + r] =
          std::fma(t.x_scale[i], combine_group_lanes(lanes[i]), t.bias ? t.bias[r] : 0.0f);
  }
}

template <BitmapValues kValues>
void bitmap_expand_s8_ref(const BitmapExpandTile& t) {
  for (size_t r = 0; r < t.rows; ++r) {
    const uint32_t* masks = t.masks + r * t.words_per_row;
    int8_t* out = reinterpret_cast<int8_t*>(t.w + r * t.w_stride);
    uint64_t e = t.first[r];
    for (size_t c = 0; c < t.words_per_row * kBitmapWordColumns; ++c)
      out[c] = (masks[c / kBitmapWordColumns] >> (c % kBitmapWordColumns) & 1)
                   ? static_cast<int8_t>(stored_weight<kValues>(t.values, e++))
                   : 0;
  }
}

}  // namespace

void q8_bitmap_gemm_4x1__ref(const BitmapGemmTile& t) { bitmap_gemm_ref<BitmapValues::q8>(t); }
void q4_bitmap_gemm_4x1__ref(const BitmapGemmTile& t) { bitmap_gemm_ref<BitmapValues::q4>(t); }

void q8_bitmap_expand_s8__ref(const BitmapExpandTile& t) {
  bitmap_expand_s8_ref<BitmapValues::q8>(t);
}
void q4_bitmap_expand_s8__ref(const BitmapExpandTile& t) {
  bitmap_expand_s8_ref<BitmapValues::q4>(t);
}

void s8_expanded_bitmap_gemm_4x4__ref(const BitmapExpandedGemmTile& t) {
  constexpr size_t MR = 4;
  for (size_t r = 0; r < t.rows; ++r) {
    const int8_t* w = reinterpret_cast<const int8_t*>(t.w + r * t.w_stride);
    const float* scales = t.scales + r * t.groups;
    for (size_t i = 0; i < t.mr; ++i) {
      float lanes[kBitmapGroupLanes] = {};
      for (size_t j = 0; j < t.groups; ++j) {
        int32_t d = 0;
        const size_t s_end = std::min(t.steps, (j + 1) * t.group_steps);
        for (size_t s = j * t.group_steps; s < s_end; ++s)
          for (size_t b = 0; b < 4; ++b) d += w[4 * s + b] * t.x[(s * MR + i) * 4 + b];
        float& lane = lanes[j % kBitmapGroupLanes];
        lane = std::fma(scales[j], static_cast<float>(d), lane);
      }
      t.y[i * t.y_stride + r] =
          std::fma(t.x_scale[i], combine_group_lanes(lanes), t.bias ? t.bias[r] : 0.0f);
    }
  }
}

}  // namespace sparq::kernels
