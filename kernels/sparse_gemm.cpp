// The sparse matmul operator: packs weights for the config's kernels, packs activations
// into panels, and splits output rows statically over threads.
#include "kernels/sparse_gemm.h"

#include <string>

#include "kernels/ref/sparse_gemm_ref.h"
#include "kernels/threading.h"

namespace sparq::kernels {

Result<PackedSparseWeight> pack_sparse_weight(const formats::TensorDesc& desc,
                                              std::span<const uint8_t> payload,
                                              const SparseGemmConfig& config) {
  PackedSparseWeight w;
  w.config_ = config;
  auto view = make_sparse_view(desc, payload);
  if (!view) return view.error();
  w.view_ = *view;
  const bool q8 = view->value_encoding == formats::Encoding::q8;
  const uint32_t R = q8 ? quad_group_rows(*view) : 1;
  const bool have_q8 = R == 1 ? config.q8_spmm_1x4 && config.q8_spmv_1x4
                              : config.q8_spmm_4x4 && config.q8_spmv_4x4;
  if (q8 && have_q8) {
    auto packed = pack_quads_q8(*view);
    if (!packed) return packed.error().within("tensor '" + desc.name + "'");
    w.quads_ = std::make_shared<const QuadPackedQ8>(std::move(*packed));
  } else if (!q8 && config.f32_spmm && config.f32_spmv) {
    auto packed = pack_csr_f32(*view);
    if (!packed) return packed.error().within("tensor '" + desc.name + "'");
    w.csr_f32_ = std::make_shared<const CsrPackedF32>(std::move(*packed));
  } else {
    // The reference reads the portable payload, so keep our own copy of it.
    auto copy = std::make_shared<std::vector<uint8_t>>(payload.begin(), payload.end());
    auto own_view = make_sparse_view(desc, *copy);
    if (!own_view) return own_view.error();
    w.view_ = *own_view;
    w.payload_ = std::move(copy);
  }
  return w;
}

std::string PackedSparseWeight::describe() const {
  std::string what = view_.encoding == formats::Encoding::csr ? "csr" : "bsr";
  what += view_.value_encoding == formats::Encoding::q8 ? ":q8" : ":f32";
  if (view_.encoding == formats::Encoding::bsr) {
    what += ":" + std::to_string(view_.block_rows) + "x" + std::to_string(view_.block_cols);
  }
  std::string into = quads_ ? "quads " + std::to_string(quads_->group_rows) + "x4"
                     : csr_f32_ ? std::string("csr f32")
                                : std::string("reference on the portable payload");
  return what + " -> " + into + " (" + std::string(isa_name(config_.isa)) + ")";
}

namespace {

// Activation panels live in a per-thread buffer that only grows: the hot path does not
// allocate once a model has run its largest batch.
template <class T>
T* scratch(size_t n) {
  thread_local AlignedArray<T> buffer;
  if (buffer.size() < n) buffer = AlignedArray<T>(n);
  return buffer.data();
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

void q8_gemm(const SparseGemmConfig& c, const QuadPackedQ8& w, const float* x, size_t m,
             const float* bias, float* y) {
  const size_t K = w.cols, N = w.rows, k4 = w.k4;
  if (m < c.spmm_min_rows) {
    uint8_t* rows = scratch<uint8_t>(m * k4 * 4);
    float* scales = scratch<float>(m);
    for (size_t i = 0; i < m; ++i) c.pack_q8_panel(x + i * K, 1, K, 1, rows + i * k4 * 4, scales + i);
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
      c.pack_q8_panel(x + p * P * K, std::min(P, m - p * P), K, P, buf + p * panel_bytes,
                      scales + p * P);
    }
  });
  const auto spmm = w.group_rows == 1 ? c.q8_spmm_1x4 : c.q8_spmm_4x4;
  over_output_rows(N, [&](size_t nb, size_t ne) {
    for (size_t p = 0; p < panels; ++p) {
      spmm(w, nb, ne, buf + p * panel_bytes, scales + p * P, std::min(P, m - p * P), bias,
           y + p * P * N, N);
    }
  });
}

void f32_gemm(const SparseGemmConfig& c, const CsrPackedF32& w, const float* x, size_t m,
              const float* bias, float* y) {
  const size_t K = w.cols, N = w.rows;
  if (m < c.spmm_min_rows) {
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
      c.pack_f32_panel(x + p * P * K, std::min(P, m - p * P), K, P, buf + p * K * P);
    }
  });
  over_output_rows(N, [&](size_t nb, size_t ne) {
    for (size_t p = 0; p < panels; ++p) {
      c.f32_spmm(w, nb, ne, buf + p * K * P, std::min(P, m - p * P), bias, y + p * P * N, N);
    }
  });
}

}  // namespace

void sparse_gemm(const PackedSparseWeight& w, const float* x, size_t m, const float* bias,
                 float* y) {
  if (m == 0) return;
  if (w.quads_) return q8_gemm(w.config_, *w.quads_, x, m, bias, y);
  if (w.csr_f32_) return f32_gemm(w.config_, *w.csr_f32_, x, m, bias, y);
  sparse_gemm_ref(w.view_, x, m, bias, y);
}

}  // namespace sparq::kernels
