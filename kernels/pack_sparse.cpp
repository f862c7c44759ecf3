#include "kernels/pack_sparse.h"
#include "kernels/q8_inverse_scale.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace sparq::kernels {

uint32_t quad_group_rows(const SparseView& w) {
  return w.layout == SparseLayout::bsr && w.block_rows % 4 == 0 ? 4 : 1;
}

namespace {

// Calls f(row, col, q) for every stored q8 entry of matrix row `r`, columns increasing.
template <class F>
void for_each_q8_entry(const SparseView& w, uint64_t r, F&& f) {
  const auto* q = static_cast<const int8_t*>(w.values);
  if (w.layout == SparseLayout::csr) {
    for (uint64_t i = w.row_begin(r); i < w.row_end(r); ++i) f(w.col_at(i), q[i]);
    return;
  }
  uint64_t br = r / w.block_rows, in_row = r % w.block_rows;
  uint64_t area = uint64_t(w.block_rows) * w.block_cols;
  for (uint64_t b = w.row_begin(br); b < w.row_end(br); ++b) {
    uint64_t c0 = w.col_at(b) * w.block_cols;
    const int8_t* block = q + b * area + in_row * w.block_cols;
    for (uint64_t j = 0; j < w.block_cols && c0 + j < w.cols; ++j) f(c0 + j, block[j]);
  }
}

}  // namespace

Result<QuadPackedQ8> pack_quads_q8(const SparseView& w) {
  if (w.value_type != SparseValueType::q8) return Error("quad packing needs q8 values");
  QuadPackedQ8 p;
  p.rows = w.rows;
  p.cols = w.cols;
  p.k4 = (w.cols + 3) / 4;
  if (p.k4 > QuadPackedQ8::kMaxQuadColumns) {
    return Error("quad packing needs at most " +
                 std::to_string(QuadPackedQ8::kMaxQuadColumns * 4) + " columns, got " +
                 std::to_string(w.cols));
  }
  p.group_rows = quad_group_rows(w);
  const uint64_t R = p.group_rows;
  p.groups = (w.rows + R - 1) / R;
  p.group_begin.assign(p.groups + 1, 0);
  p.scales.assign(p.groups * R, 0.0f);
  p.weight_sums.assign(p.groups * R, 0);

  // Pass 1: each group's quad list (the union over its rows, ascending).
  std::vector<std::vector<uint16_t>> quads(p.groups);
  for (uint64_t g = 0; g < p.groups; ++g) {
    auto& list = quads[g];
    for (uint64_t r = g * R; r < std::min(w.rows, g * R + R); ++r) {
      for_each_q8_entry(w, r, [&](uint64_t c, int8_t) { list.push_back(uint16_t(c / 4)); });
    }
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    p.group_begin[g + 1] = p.group_begin[g] + list.size();
  }
  p.quad_col = AlignedArray<uint16_t>(p.group_begin[p.groups]);
  p.weights = AlignedArray<int8_t>(p.group_begin[p.groups] * R * 4);

  // Pass 2: scatter the weights into [quad][row][4].
  for (uint64_t g = 0; g < p.groups; ++g) {
    const auto& list = quads[g];
    std::copy(list.begin(), list.end(), p.quad_col.data() + p.group_begin[g]);
    int8_t* wg = p.weights.data() + p.group_begin[g] * R * 4;
    for (uint64_t r = g * R; r < std::min(w.rows, g * R + R); ++r) {
      const uint64_t in_group = r - g * R;
      size_t i = 0;  // entries arrive in column order, so the quad cursor only advances
      int32_t sum = 0;
      for_each_q8_entry(w, r, [&](uint64_t c, int8_t q) {
        while (list[i] != c / 4) ++i;
        wg[(i * R + in_group) * 4 + c % 4] = q;
        sum += q;
      });
      p.scales[r] = w.scales[r];
      p.weight_sums[r] = sum;
    }
  }
  return p;
}

Result<CsrPackedF32> pack_csr_f32(const SparseView& w) {
  if (w.layout != SparseLayout::csr || w.value_type != SparseValueType::f32) {
    return Error("f32 csr packing needs csr:f32");
  }
  if (w.count >= (uint64_t(1) << 32) || w.cols > (uint64_t(1) << 31)) {
    return Error("f32 csr packing needs nnz below 2^32 and cols below 2^31");
  }
  CsrPackedF32 p;
  p.rows = w.rows;
  p.cols = w.cols;
  p.row_ptr.resize(w.rows + 1);
  for (uint64_t r = 0; r <= w.rows; ++r) p.row_ptr[r] = uint32_t(w.row_begin(r));
  p.col = AlignedArray<int32_t>(w.count);
  p.values = AlignedArray<float>(w.count);
  for (uint64_t i = 0; i < w.count; ++i) p.col[i] = int32_t(w.col_at(i));
  std::memcpy(p.values.data(), w.values, w.count * sizeof(float));
  return p;
}

float quantize_row_q8__ref(const float* x, size_t k, int8_t* q) {
  float amax = 0.0f;
  for (size_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (amax == 0.0f) {
    std::memset(q, 0, k);
    return 0.0f;
  }
  const float inv = q8_inverse_scale(amax);
  for (size_t i = 0; i < k; ++i) {
    float v = std::nearbyint(x[i] * inv);
    q[i] = int8_t(std::clamp(v, -127.0f, 127.0f));
  }
  return amax / 127.0f;
}

void pack_q8_panel__ref(const float* x, size_t rows, size_t k, size_t panel_rows,
                        uint8_t* panel, float* scales) {
  size_t k4 = (k + 3) / 4;
  std::memset(panel, 0x80, k4 * panel_rows * 4);
  std::vector<int8_t> q(k);
  for (size_t m = 0; m < rows; ++m) {
    scales[m] = quantize_row_q8__ref(x + m * k, k, q.data());
    for (size_t c = 0; c < k; ++c) {
      panel[((c / 4) * panel_rows + m) * 4 + c % 4] = uint8_t(q[c] + 128);
    }
  }
  for (size_t m = rows; m < panel_rows; ++m) scales[m] = 0.0f;
}

void pack_f32_panel__ref(const float* x, size_t rows, size_t k, size_t panel_rows,
                         float* panel) {
  for (size_t c = 0; c < k; ++c) {
    for (size_t m = 0; m < panel_rows; ++m) {
      panel[c * panel_rows + m] = m < rows ? x[m * k + c] : 0.0f;
    }
  }
}

}  // namespace sparq::kernels
