// The sparse matmul operator: packs weights for the config's kernels, packs activations
// into panels, and splits output rows statically over threads.
#include "kernels/sparse_gemm.h"

#include <cstring>
#include <string>
#include <vector>

#include "kernels/ref/sparse_gemm__ref.h"
#include "kernels/threading.h"

namespace sparq::kernels {

namespace {

// The sections `w` points into, copied into `storage` (each at a 64-byte offset, so the
// copies keep their alignment) and the view rebased onto the copies.
SparseView copy_sections(const SparseView& w, std::vector<uint8_t>& storage) {
  const uint64_t pointer_rows =
      w.layout == SparseLayout::csr ? w.rows : (w.rows + w.block_rows - 1) / w.block_rows;
  const uint64_t value_bytes = w.value_type == SparseValueType::f32 ? sizeof(float) : 1;
  const uint64_t sizes[] = {(pointer_rows + 1) * w.row_ptr_width, w.count * w.col_idx_width,
                            w.scales ? w.rows * sizeof(float) : 0,
                            w.count * w.block_rows * w.block_cols * value_bytes};
  const void* from[] = {w.row_ptr, w.col_idx, w.scales, w.values};
  uint64_t offsets[4], end = 0;
  for (int i = 0; i < 4; ++i) {
    offsets[i] = end;
    end += (sizes[i] + 63) / 64 * 64;
  }
  storage.assign(end, 0);
  for (int i = 0; i < 4; ++i) {
    if (sizes[i]) std::memcpy(storage.data() + offsets[i], from[i], sizes[i]);
  }
  SparseView v = w;
  v.row_ptr = storage.data() + offsets[0];
  v.col_idx = storage.data() + offsets[1];
  v.scales = w.scales ? reinterpret_cast<const float*>(storage.data() + offsets[2]) : nullptr;
  v.values = storage.data() + offsets[3];
  return v;
}

}  // namespace

Result<PackedSparseWeight> pack_sparse_weight(const SparseView& view,
                                              const SparseGemmConfig& config) {
  PackedSparseWeight w;
  w.config_ = config;
  w.view_ = view;
  const bool q8 = view.value_type == SparseValueType::q8;
  const uint32_t R = q8 ? quad_group_rows(view) : 1;
  const bool have_q8 = R == 1 ? config.q8_spmm_1x4 && config.q8_spmv_1x4
                              : config.q8_spmm_4x4 && config.q8_spmv_4x4;
  if (q8 && have_q8) {
    auto packed = pack_quads_q8(view);
    if (!packed) return packed.error();
    w.quads_ = std::make_shared<const QuadPackedQ8>(std::move(*packed));
  } else if (!q8 && config.f32_spmm && config.f32_spmv) {
    auto packed = pack_csr_f32(view);
    if (!packed) return packed.error();
    w.csr_f32_ = std::make_shared<const CsrPackedF32>(std::move(*packed));
  } else {
    // The reference reads the view's sections, so keep our own copy of them.
    auto copy = std::make_shared<std::vector<uint8_t>>();
    w.view_ = copy_sections(view, *copy);
    w.sections_ = std::move(copy);
  }
  return w;
}

std::string PackedSparseWeight::describe() const {
  std::string what = view_.layout == SparseLayout::csr ? "csr" : "bsr";
  what += view_.value_type == SparseValueType::q8 ? ":q8" : ":f32";
  if (view_.layout == SparseLayout::bsr) {
    what += ":" + std::to_string(view_.block_rows) + "x" + std::to_string(view_.block_cols);
  }
  std::string into = quads_ ? "quads " + std::to_string(quads_->group_rows) + "x4"
                     : csr_f32_ ? std::string("csr f32")
                                : std::string("reference on the portable payload");
  return what + " -> " + into + " (" + std::string(isa_name(config_.isa)) + ")";
}

namespace {

// Activation panels live in a per-thread buffer that only grows: the hot path does not
// allocate once a model has run its largest batch. `kSlot` tells apart buffers of one type
// that are live at the same time.
template <class T, int kSlot = 0>
T* scratch(size_t n) {
  thread_local AlignedArray<T> buffer;
  return buffer.at_least(n);
}

// Output rows are split in units of 16 (a multiple of every group height, and the SpMM
// kernels' output tile), at least 64 rows per thread.
constexpr size_t kRowUnit = 16, kMinRowsPerThread = 64;

template <class Body>
void over_output_rows(uint64_t n_rows, Body&& body) {
  parallel_run(n_rows, kMinRowsPerThread, [&](int t, int threads) {
    Range r = static_partition(n_rows, kRowUnit, t, threads);
    if (r.size()) body(r.begin, r.end);
  });
}

// Y = (packed panels of X)·Wᵀ + bias, each thread its output rows over every panel. Y of a
// batch is larger than the caches and read only by the next operation: streamed.
void spmm_over_panels(const SparseGemmConfig& c, const QuadPackedQ8& w, const uint8_t* buf,
                      const float* scales, size_t m, const float* bias, float* y) {
  const size_t N = w.rows, P = c.q8_panel_rows, panels = (m + P - 1) / P, panel_bytes = w.k4 * P * 4;
  const auto spmm = w.group_rows == 1 ? c.q8_spmm_1x4 : c.q8_spmm_4x4;
  over_output_rows(N, [&](size_t nb, size_t ne) {
    for (size_t p = 0; p < panels; ++p) {
      spmm(w, nb, ne, buf + p * panel_bytes, scales + p * P, std::min(P, m - p * P), bias,
           y + p * P * N, N, true);
    }
  });
}

void q8_gemm(const SparseGemmConfig& c, const QuadPackedQ8& w, const float* x, size_t m,
             const float* bias, float* y, InputTransform f) {
  const size_t K = w.cols, N = w.rows, k4 = w.k4;
  if (m < c.spmm_min_rows) {
    uint8_t* rows = scratch<uint8_t>(m * k4 * 4);
    float* scales = scratch<float>(m);
    for (size_t i = 0; i < m; ++i) {
      c.pack_q8_panel(transformed_input(f, x + i * K, K), 1, K, 1, rows + i * k4 * 4, scales + i);
    }
    const auto spmv = w.group_rows == 1 ? c.q8_spmv_1x4 : c.q8_spmv_4x4;
    over_output_rows(N, [&](size_t nb, size_t ne) {
      for (size_t i = 0; i < m; ++i) spmv(w, nb, ne, rows + i * k4 * 4, scales[i], bias, y + i * N);
    });
    return;
  }
  const size_t P = c.q8_panel_rows, panels = (m + P - 1) / P, panel_bytes = k4 * P * 4;
  uint8_t* buf = scratch<uint8_t>(panels * panel_bytes);
  float* scales = scratch<float>(panels * P);
  parallel_run(panels, 1, [&](int t, int threads) {
    Range r = static_partition(panels, 1, t, threads);
    for (size_t p = r.begin; p < r.end; ++p) {
      const size_t rows = std::min(P, m - p * P);
      c.pack_q8_panel(transformed_input(f, x + p * P * K, rows * K), rows, K, P,
                      buf + p * panel_bytes, scales + p * P);
    }
  });
  spmm_over_panels(c, w, buf, scales, m, bias, y);
}

// The panel path of q8_gemm for both weights of an FFN, with the intermediate kept in cache:
// each thread takes whole panels of X, computes all of their `up` outputs into a tile of its
// own (P x N1 floats, L2-sized at BERT widths, stored normally so it stays there), applies f
// in place and packs the tile as `down`'s activation panel. Same bits as the two q8_gemm calls.
void q8_ffn(const SparseGemmConfig& c, const QuadPackedQ8& up, const float* up_bias,
            const QuadPackedQ8& down, const float* down_bias, InputTransform f, const float* x,
            size_t m, float* y) {
  const size_t K = up.cols, N1 = up.rows, P = c.q8_panel_rows, panels = (m + P - 1) / P;
  const size_t up_panel_bytes = up.k4 * P * 4, down_panel_bytes = down.k4 * P * 4;
  uint8_t* buf = scratch<uint8_t>(panels * down_panel_bytes);
  float* scales = scratch<float>(panels * P);
  const auto spmm_up = up.group_rows == 1 ? c.q8_spmm_1x4 : c.q8_spmm_4x4;
  parallel_run(panels, 1, [&](int t, int threads) {
    const Range r = static_partition(panels, 1, t, threads);
    uint8_t* up_panel = scratch<uint8_t, 1>(up_panel_bytes);
    float* up_scales = scratch<float, 1>(P);
    float* tile = scratch<float, 2>(P * N1);
    for (size_t p = r.begin; p < r.end; ++p) {
      const size_t rows = std::min(P, m - p * P);
      c.pack_q8_panel(x + p * P * K, rows, K, P, up_panel, up_scales);
      spmm_up(up, 0, N1, up_panel, up_scales, rows, up_bias, tile, N1, false);
      if (f) f(rows * N1, tile, tile);
      c.pack_q8_panel(tile, rows, N1, P, buf + p * down_panel_bytes, scales + p * P);
    }
  });
  spmm_over_panels(c, down, buf, scales, m, down_bias, y);
}

void f32_gemm(const SparseGemmConfig& c, const CsrPackedF32& w, const float* x, size_t m,
              const float* bias, float* y, InputTransform f) {
  const size_t K = w.cols, N = w.rows;
  if (m < c.spmm_min_rows) {
    x = transformed_matrix(f, x, m, K);  // the SpMV kernels read X in place
    over_output_rows(N, [&](size_t nb, size_t ne) {
      for (size_t i = 0; i < m; ++i) c.f32_spmv(w, nb, ne, x + i * K, bias, y + i * N);
    });
    return;
  }
  const size_t P = kSparsePanelRows, panels = (m + P - 1) / P;
  float* buf = scratch<float>(panels * K * P);
  parallel_run(panels, 1, [&](int t, int threads) {
    Range r = static_partition(panels, 1, t, threads);
    for (size_t p = r.begin; p < r.end; ++p) {
      const size_t rows = std::min(P, m - p * P);
      c.pack_f32_panel(transformed_input(f, x + p * P * K, rows * K), rows, K, P, buf + p * K * P);
    }
  });
  over_output_rows(N, [&](size_t nb, size_t ne) {
    for (size_t p = 0; p < panels; ++p) {
      c.f32_spmm(w, nb, ne, buf + p * K * P, std::min(P, m - p * P), bias, y + p * P * N, N);
    }
  });
}

}  // namespace

bool sparse_ffn_fuses(const PackedSparseWeight& up, const PackedSparseWeight& down, size_t m) {
  if (!up.quads_ || !down.quads_ || up.rows() != down.cols()) return false;
  const SparseGemmConfig& c = up.config_;
  if (m < c.spmm_min_rows || c.isa != down.config_.isa) return false;
  // Threads split panels of rows, not output rows: only worth it when each gets the same
  // number, or enough that one more does not matter.
  const size_t panels = (m + c.q8_panel_rows - 1) / c.q8_panel_rows, threads = num_threads();
  return panels % threads == 0 || panels >= 4 * threads;
}

void sparse_ffn(const PackedSparseWeight& up, const float* up_bias, const PackedSparseWeight& down,
                const float* down_bias, InputTransform f, const float* x, size_t m, float* y) {
  q8_ffn(up.config_, *up.quads_, up_bias, *down.quads_, down_bias, f, x, m, y);
}

void sparse_gemm(const PackedSparseWeight& w, const float* x, size_t m, const float* bias,
                 float* y, InputTransform f) {
  if (m == 0) return;
  if (w.quads_) return q8_gemm(w.config_, *w.quads_, x, m, bias, y, f);
  if (w.csr_f32_) return f32_gemm(w.config_, *w.csr_f32_, x, m, bias, y, f);
  sparse_gemm__ref(w.view_, transformed_matrix(f, x, m, w.cols()), m, bias, y);
}

}  // namespace sparq::kernels
