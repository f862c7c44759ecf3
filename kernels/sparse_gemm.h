// Sparse matmul Y = X·Wᵀ (+ bias) with W [N x K] stored sparse: CSR with f32 or q8 values
// (unstructured) and block-sparse BSR with q8 values. X is [M x K] f32 row-major, Y is
// [M x N] f32 row-major. For q8, each row of X is quantized on the fly to int8 (symmetric,
// scale = max|x| / 127, round to nearest even), products are accumulated exactly in int32
// and the result is acc · (x_scale · w_scale[n]) + bias[n] as one fused multiply-add.
//
// Weights are packed once, at load time, from a view of the portable csr/bsr layout
// (runtime/model/weight_views.h lays one over a .sparq tensor) into the layout of the
// kernel this process's config picked; pack, then call sparse_gemm() on the packed weight
// any number of times.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "formats/error.h"
#include "kernels/input_transform.h"
#include "kernels/isa.h"
#include "kernels/pack_sparse.h"

namespace sparq::kernels {

// Kernel signatures. The operator (sparse_gemm) owns threading and activation packing; a
// kernel computes one range of output rows [n_begin, n_end) — aligned to the packed group
// height — for its slice of X.
//
// q8 SpMM over one panel of the config's `q8_panel_rows` rows of X (packed by
// pack_q8_panel): writes Y rows [0, m_valid) of the panel, columns [n_begin, n_end).
// `stream_y`: Y is large and not read back soon, so whole aligned lines may bypass the cache
// (the AVX-512 kernel does; the others always store normally); false when the caller reads
// Y right away from cache.
using Q8SpmmKernel = void (*)(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                              const uint8_t* panel, const float* x_scales, size_t m_valid,
                              const float* bias, float* y, size_t ldy, bool stream_y);
// q8 SpMV for one row of X: a q8 panel of height 1 (quantized, offset to u8, 4·k4 bytes).
using Q8SpmvKernel = void (*)(const QuadPackedQ8& w, size_t n_begin, size_t n_end,
                              const uint8_t* x_u8, float x_scale, const float* bias, float* y);
// f32 SpMM over one K-major panel (panel[k][kSparsePanelRows]) and f32 SpMV over one row.
using F32SpmmKernel = void (*)(const CsrPackedF32& w, size_t n_begin, size_t n_end,
                               const float* panel, size_t m_valid, const float* bias, float* y,
                               size_t ldy);
using F32SpmvKernel = void (*)(const CsrPackedF32& w, size_t n_begin, size_t n_end,
                               const float* x, const float* bias, float* y);

// Rows of X per f32 SpMM panel: 4 AVX-512 vectors of 16 rows, so each weight is loaded once
// per 64 rows of activations.
inline constexpr size_t kSparsePanelRows = 64;
// Rows of X per q8 SpMM panel of each ISA's kernels (their files say why).
inline constexpr size_t kQ8PanelRowsAvx512 = 64;
inline constexpr size_t kQ8PanelRowsAvx2 = 32;
inline constexpr size_t kQ8PanelRowsNeon = 16;

// One config per process (XNNPACK style): which kernels run, chosen once from
// selected_isa(). A null kernel means "no packed kernel for this case": the operator runs
// the scalar reference on the portable payload instead.
struct SparseGemmConfig {
  Isa isa = Isa::ref;
  Q8SpmmKernel q8_spmm_1x4 = nullptr;  // groups of 1 output row (csr q8, bsr 1x4/1x8)
  Q8SpmmKernel q8_spmm_4x4 = nullptr;  // groups of 4 output rows (bsr 4x1/8x1/16x1/4x4)
  Q8SpmvKernel q8_spmv_1x4 = nullptr;
  Q8SpmvKernel q8_spmv_4x4 = nullptr;
  F32SpmmKernel f32_spmm = nullptr;
  F32SpmvKernel f32_spmv = nullptr;
  Q8PanelPacker pack_q8_panel = pack_q8_panel__ref;
  size_t q8_panel_rows = kSparsePanelRows;  // the panel height the q8 SpMM kernels expect
  F32PanelPacker pack_f32_panel = pack_f32_panel__ref;
  // Below this many rows of X the SpMV kernel runs once per row.
  size_t spmm_min_rows = 16;
};

// The process's config: from selected_isa(), decided on first call.
Result<const SparseGemmConfig*> sparse_gemm_config();
// The config a given ISA level gets (tests and benchmarks compare levels in one process).
// The caller must make sure the CPU supports `isa`.
SparseGemmConfig sparse_gemm_config_for(Isa isa);

// A weight ready for sparse_gemm: the packed layout its config's kernels read, or (when
// the config has no kernel for this encoding) a copy of the view's sections for the
// reference.
class PackedSparseWeight {
 public:
  uint64_t rows() const { return view_.rows; }  // N
  uint64_t cols() const { return view_.cols; }  // K
  const SparseGemmConfig& config() const { return config_; }
  // "csr:q8 -> quads 1x4 (avx512vnni)": what the weight was packed into, for --verbose.
  std::string describe() const;

 private:
  friend Result<PackedSparseWeight> pack_sparse_weight(const SparseView&,
                                                       const SparseGemmConfig&);
  friend void sparse_gemm(const PackedSparseWeight&, const float*, size_t, const float*,
                          float*, InputTransform);
  friend bool sparse_ffn_fuses(const PackedSparseWeight&, const PackedSparseWeight&, size_t);
  friend void sparse_ffn(const PackedSparseWeight&, const float*, const PackedSparseWeight&,
                         const float*, InputTransform, const float*, size_t, float*);
  SparseGemmConfig config_;
  std::shared_ptr<const std::vector<uint8_t>> sections_;  // reference path only
  SparseView view_;
  std::shared_ptr<const QuadPackedQ8> quads_;
  std::shared_ptr<const CsrPackedF32> csr_f32_;
};

// Packs `w` for `config`; the view's memory is not needed afterwards.
Result<PackedSparseWeight> pack_sparse_weight(const SparseView& w, const SparseGemmConfig& config);

// An FFN's two matmuls in one, y = f(x·upᵀ + up_bias)·downᵀ + down_bias, with the same bits
// as sparse_gemm(up) then sparse_gemm(down, f), when sparse_ffn_fuses says the pair and the
// row count allow it (both q8 quads, the panel path, panels that split evenly enough over
// the threads). Threads take whole panels of X's rows and keep each panel's intermediate
// (P x N1 floats) in cache while f is applied and it is packed for `down`: the M x N1
// intermediate, the largest activation of an encoder layer, never goes to memory.
bool sparse_ffn_fuses(const PackedSparseWeight& up, const PackedSparseWeight& down, size_t m);
void sparse_ffn(const PackedSparseWeight& up, const float* up_bias, const PackedSparseWeight& down,
                const float* down_bias, InputTransform f, const float* x, size_t m, float* y);

// Y[m x N] = f(X[m x K]) · Wᵀ (+ bias[N] when bias is non-null), f the identity when null.
// X and Y are dense row-major with row strides K and N. Runs on num_threads() threads,
// statically partitioned over output rows: integer kernels give the same bits for any
// thread count.
void sparse_gemm(const PackedSparseWeight& w, const float* x, size_t m, const float* bias,
                 float* y, InputTransform f = nullptr);

}  // namespace sparq::kernels
