// The sparse matmul family's layouts: a read-only view of a csr/bsr matrix laid out as in a
// portable .sparq payload (what the reference reads; runtime/model/weight_views.h builds it
// from a tensor), the packed layouts the SIMD kernels read, the packing between them, and
// the activation layouts (panels) the SpMM kernels consume.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "formats/error.h"
#include "kernels/aligned_array.h"

namespace sparq::kernels {

enum class SparseLayout : uint8_t { csr, bsr };
enum class SparseValueType : uint8_t { f32, q8 };

// A csr/bsr matrix in the sections of a portable payload (formats/SPEC.md section 5), seen
// in place. The memory must outlive the view.
struct SparseView {
  SparseLayout layout = SparseLayout::csr;
  SparseValueType value_type = SparseValueType::f32;
  uint64_t rows = 0, cols = 0;
  uint32_t block_rows = 1, block_cols = 1;  // csr: 1x1
  uint64_t count = 0;                       // nnz (csr) or blocks (bsr)
  const uint8_t* row_ptr = nullptr;         // over rows (csr) or block rows (bsr)
  const uint8_t* col_idx = nullptr;         // columns (csr) or block columns (bsr)
  uint8_t row_ptr_width = 4, col_idx_width = 2;
  const float* scales = nullptr;            // q8 values: one per matrix row
  const void* values = nullptr;             // f32[] or int8[]

  uint64_t row_begin(uint64_t r) const { return ptr_at(r); }
  uint64_t row_end(uint64_t r) const { return ptr_at(r + 1); }
  uint64_t col_at(uint64_t i) const {
    return col_idx_width == 2 ? reinterpret_cast<const uint16_t*>(col_idx)[i]
                              : reinterpret_cast<const uint32_t*>(col_idx)[i];
  }

 private:
  uint64_t ptr_at(uint64_t i) const {
    return row_ptr_width == 4 ? reinterpret_cast<const uint32_t*>(row_ptr)[i]
                              : reinterpret_cast<const uint64_t*>(row_ptr)[i];
  }
};

// q8 weights packed as "quads": groups of `group_rows` (1 or 4) output rows that share one
// list of aligned 4-column slices of K (quads). Each quad holds, for every row of the
// group, the 4 int8 weights of columns 4q..4q+3 (zeros where the row has none) — exactly
// one 32-bit lane of a u8·s8 dot-product instruction (vpdpbusd, sdot).
// The quads of all groups are stored back to back without padding, weights as
// [quad][group_rows][4] (what a SpMM kernel broadcasts for one quad sits in one place) and
// the quad's K index as 16 bits: the SpMV kernels are bandwidth-bound, and 6 bytes per
// 1x4 quad instead of 8 (32-bit index) is a third less traffic.
struct QuadPackedQ8 {
  static constexpr uint64_t kMaxQuadColumns = uint64_t(1) << 16;  // k4 limit of the index
  uint64_t rows = 0, cols = 0, k4 = 0;  // k4 = ceil(cols / 4)
  uint32_t group_rows = 1;
  uint64_t groups = 0;                   // ceil(rows / group_rows)
  std::vector<uint64_t> group_begin;     // [groups + 1]: first quad of each group
  AlignedArray<uint16_t> quad_col;       // [quads]: k4 index, ascending within a group
  AlignedArray<int8_t> weights;          // [quads · group_rows · 4]
  std::vector<float> scales;             // [groups · group_rows]; 0 for padding rows
  std::vector<int32_t> weight_sums;      // [groups · group_rows]: Σ weights, for the u8 offset

  const uint16_t* cols_of(uint64_t g) const { return quad_col.data() + group_begin[g]; }
  const int8_t* weights_of(uint64_t g) const {
    return weights.data() + group_begin[g] * group_rows * 4;
  }
  uint64_t count_of(uint64_t g) const { return group_begin[g + 1] - group_begin[g]; }
};

// Packs csr q8 (group of 1 row) or bsr q8 (4 rows when block_rows is a multiple of 4,
// else 1). Errors when a packed index would not fit its field.
Result<QuadPackedQ8> pack_quads_q8(const SparseView& w);
// The group height pack_quads_q8 picks for this matrix.
uint32_t quad_group_rows(const SparseView& w);

// csr f32 with 32-bit indices, for the f32 kernels.
struct CsrPackedF32 {
  uint64_t rows = 0, cols = 0;
  std::vector<uint32_t> row_ptr;  // [rows + 1]
  AlignedArray<int32_t> col;      // [nnz]
  AlignedArray<float> values;     // [nnz]
};
Result<CsrPackedF32> pack_csr_f32(const SparseView& w);

// Activation quantization, the one definition every q8 kernel follows: scale = max|x|/127,
// q = round_to_nearest_even(x · (127 / max|x|)) clamped to ±127; all zero when max|x| = 0.
// Returns the scale.
float quantize_row_q8__ref(const float* x, size_t k, int8_t* q);

// Activation panels. A q8 panel holds `rows` (≤ panel height) rows of X quantized, offset to
// u8 (q + 128) and interleaved for u8·s8 dot products: byte (k4, m, j) at
// ((k4 · panel_rows) + m) · 4 + j holds row m, column 4·k4 + j; rows ≥ `rows` and columns
// ≥ k are q = 0. An f32 panel is X transposed: element (k, m) at k · panel_rows + m.
using Q8PanelPacker = void (*)(const float* x, size_t rows, size_t k, size_t panel_rows,
                               uint8_t* panel, float* scales);
using F32PanelPacker = void (*)(const float* x, size_t rows, size_t k, size_t panel_rows,
                                float* panel);
void pack_q8_panel__ref(const float* x, size_t rows, size_t k, size_t panel_rows,
                        uint8_t* panel, float* scales);
void pack_f32_panel__ref(const float* x, size_t rows, size_t k, size_t panel_rows,
                         float* panel);

}  // namespace sparq::kernels
