// The dense-matmul driver: quantizes activations, partitions the output columns across
// threads and walks each thread's share in cache-sized blocks of weight panels, calling
// the config's microkernel per tile.
#include "kernels/dense_gemm.h"

#include <algorithm>
#include <vector>

#include "kernels/dense_gemm_config.h"
#include "kernels/pack_dense.h"
#include "kernels/threading.h"

namespace sparq::kernels {
namespace {

// Weight bytes one thread keeps hot in L2 while it sweeps the rows of X over them.
constexpr size_t kPanelBlockBytes = 512 * 1024;

// A second thread is worth waking for about this many multiply-adds: below it, the fork and
// the barrier (microseconds on an idle machine, a scheduler time slice on a busy one) cost
// more than the work saves. A small model's decode step is made of such matmuls.
constexpr size_t kMinMacsPerThread = size_t{1} << 16;

// The fewest weight panels of `panel_macs` multiply-adds each that keep a thread busy enough.
size_t min_panels_per_thread(size_t panel_macs) {
  return std::max<size_t>(1, (kMinMacsPerThread + panel_macs - 1) / std::max<size_t>(panel_macs, 1));
}

size_t panels_per_block(size_t panel_bytes) {
  return std::max<size_t>(1, kPanelBlockBytes / std::max<size_t>(panel_bytes, 1));
}

// Calls tile(m0, panel) over this thread's panels, in blocks of weight panels that fit
// in L2, each block swept by every row tile.
template <class Tile>
void for_each_tile(size_t m, size_t mr, Range panels, size_t block, Tile&& tile) {
  for (size_t p0 = panels.begin; p0 < panels.end; p0 += block) {
    const size_t p1 = std::min(panels.end, p0 + block);
    for (size_t m0 = 0; m0 < m; m0 += mr) {
      for (size_t p = p0; p < p1; ++p) tile(m0, p);
    }
  }
}

// f32, f16 and bf16 weights: panels of k x nr values of type W, tiles of mr rows.
template <class W>
void float_matmul(const PackedDenseWeights::Storage& s, const W* weights,
                  void (*kernel)(const FloatGemmTile<W>&), size_t mr, const float* x, size_t m,
                  const float* bias, float* y, InputTransform f) {
  const size_t nr = s.nr, k = s.k, n = s.n;
  x = transformed_matrix(f, x, m, k);  // the float kernels read X in place, from every thread
  parallel_run(s.panels, min_panels_per_thread(m * k * nr), [&](int t, int threads) {
    const Range cols = static_partition(n, nr, t, threads);
    const Range panels{cols.begin / nr, (cols.end + nr - 1) / nr};
    for_each_tile(m, mr, panels, panels_per_block(k * nr * sizeof(W)),
                  [&](size_t m0, size_t p) {
                    const size_t n0 = p * nr;
                    FloatGemmTile<W> tile{std::min(mr, m - m0), std::min(nr, n - n0), k,
                                          x + m0 * k, k, weights + p * k * nr,
                                          bias ? bias + n0 : nullptr, y + m0 * n + n0, n};
                    kernel(tile);
                  });
  });
}

// Per-thread activation scratch, grown on demand and kept for the next call.
struct QuantizedRows {
  std::vector<int8_t> q;
  std::vector<float> scale;
  std::vector<int32_t> sums;
};

void quantized_matmul(const PackedDenseWeights::Storage& s, const float* x, size_t m,
                      const float* bias, float* y, InputTransform f) {
  const QTypeConfig& qc = s.qconfig();
  const QGemmKernel& kern = m <= qc.gemv.mr ? qc.gemv : qc.gemm;
  const size_t nr = s.nr, n = s.n, k = s.k;
  const size_t row_bytes = s.groups * s.group_stride;

  static thread_local QuantizedRows scratch;
  if (scratch.q.size() < m * row_bytes) scratch.q.resize(m * row_bytes);
  if (scratch.scale.size() < m) scratch.scale.resize(m);
  if (scratch.sums.size() < m * s.groups) scratch.sums.resize(m * s.groups);
  int8_t* q = scratch.q.data();
  float* scale = scratch.scale.data();
  int32_t* sums = scratch.sums.data();
  const QuantizeRowFn quantize = s.config->quantize_row;

  parallel_run(s.panels, min_panels_per_thread(m * k * nr), [&](int t, int threads) {
    const Range mine = static_partition(m, 1, t, threads);
    for (size_t i = mine.begin; i < mine.end; ++i) {
      quantize(transformed_input(f, x + i * k, k), k, s.group, s.group_stride, q + i * row_bytes,
               sums + i * s.groups, scale + i);
    }
#pragma omp barrier
    const Range cols = static_partition(n, nr, t, threads);
    const Range panels{cols.begin / nr, (cols.end + nr - 1) / nr};
    const float* w_min = s.mins.size() ? s.mins.data() : nullptr;
    for_each_tile(m, kern.mr, panels, panels_per_block(s.panel_bytes),
                  [&](size_t m0, size_t p) {
                    const size_t n0 = p * nr;
                    QGemmTile tile{std::min(kern.mr, m - m0),
                                   std::min(nr, n - n0),
                                   q + m0 * row_bytes,
                                   row_bytes,
                                   scale + m0,
                                   sums + m0 * s.groups,
                                   s.groups,
                                   s.values.data() + p * s.panel_bytes,
                                   s.scales.data() + p * s.groups * nr,
                                   w_min ? w_min + p * s.groups * nr : nullptr,
                                   s.groups,
                                   s.group_stride,
                                   s.zero_point,
                                   bias ? bias + n0 : nullptr,
                                   y + m0 * n + n0,
                                   n};
                    kern.fn(tile);
                  });
  });
}

}  // namespace

void dense_matmul(const PackedDenseWeights& w, const float* x, size_t m, const float* bias,
                  float* y, InputTransform f) {
  if (m == 0) return;
  const PackedDenseWeights::Storage& s = w.storage();
  switch (s.type) {
    case DenseType::f32:
      float_matmul(s, s.f32.data(), s.config->f32.fn, s.config->f32.mr, x, m, bias, y, f);
      break;
    case DenseType::f16:
    case DenseType::bf16: {
      const HalfTypeConfig& hc = s.half_config();
      const HalfGemmKernel& kern = m <= hc.gemv.mr ? hc.gemv : hc.gemm;
      float_matmul(s, s.halves.data(), kern.fn, kern.mr, x, m, bias, y, f);
      break;
    }
    case DenseType::q8:
    case DenseType::q4:
      quantized_matmul(s, x, m, bias, y, f);
      break;
  }
}

std::string_view dense_type_name(DenseType type) {
  switch (type) {
    case DenseType::f32: return "f32";
    case DenseType::f16: return "f16";
    case DenseType::bf16: return "bf16";
    case DenseType::q8: return "q8";
    case DenseType::q4: return "q4";
  }
  return "?";
}

}  // namespace sparq::kernels
