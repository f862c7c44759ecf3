// Bitmap-sparse matmul for decoders: Y[m x n] = X[m x k] · Wᵀ + bias, W stored as the
// portable `bitmap` encoding (formats/SPEC.md §5): per weight row one 32-bit mask per 32
// columns, the stored q8 or symmetric-q4 values packed in column order, and the dense
// q8/q4 group scales. Decode (m = 1) reads 1 bit per weight plus the stored values, so its
// bytes shrink with sparsity where csr's 16-bit column indices cannot (kernels/sparse_gemm.h).
//
// Arithmetic (every level bit for bit, the scalar reference included): each row of X is
// quantized as dense_matmul does (kernels/dense_gemm.h: sx = max|x| / 127, qx by
// round-half-even, the config's quantize_row with group g and stride g); per weight row r
// and scale group j, d_j = Σ_{stored c in j} qw[r][c] · qx[c] exactly in int32 (qw the i8
// value or nibble − 8). Groups are combined in 8 lanes, so SIMD kernels take 8 at a time:
// lane l = fma(sw[r][j], float(d_j), lane l) over the groups j ≡ l (mod 8) in increasing
// order, starting at +0; then t = ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) and
// y = fma(sx, t, bias[r] or 0). A lane never holds −0, so a group with d = 0 (or a padding
// group of scale 0) leaves it unchanged: kernels may skip or pad groups.
//
// The kernels expand each 32-column word's stored values to a dense 32-byte vector with the
// mask and run the dense int8 dot product on it: the expansion is a byte shuffle driven by a
// 256-entry table per 8 columns (pshufb on x86, tbl on NEON). AVX-512 VBMI2's vpexpandb does
// 64 columns in one instruction; no ISA level (kernels/isa.h) requires VBMI and VBMI2
// (Cascade Lake has VNNI without them), so the VNNI and AMX configs take those kernels
// (kernels/avx512vbmi2/, compiled with the VNNI level's flags plus VBMI and VBMI2) when the
// CPU has both. Their decode kernels also take the codes as vpdpbusd's unsigned operand,
// offset by 128 (q8) or 8 (q4), and subtract offset · Σx per group (x_sums) afterwards.
//
// Two paths, chosen by m in bitmap_matmul. Decode (m below the config's expand_min_m): the
// 4x1 kernels take X rows four at a time through each weight row, expanding it in registers
// once per four. Prefill: each thread expands its weight rows once per call, a block at a
// time, into dense int8 rows in a per-thread scratch (the expand kernels), and an int8 GEMM
// on those rows runs all m rows of X against them, X packed into panels of MR rows with one
// row per 32-bit lane (the expanded-gemm kernels). Same arithmetic, bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "formats/error.h"
#include "kernels/dense_gemm.h"
#include "kernels/dense_gemm_ukernel.h"
#include "kernels/input_transform.h"
#include "kernels/isa.h"

namespace sparq::kernels {

inline constexpr size_t kBitmapWordColumns = 32;
inline constexpr size_t kBitmapGroupLanes = 8;

enum class BitmapValues : uint8_t { q8, q4 };

// A bitmap weight laid over a (decompressed) .sparq payload; nothing is copied.
struct BitmapWeightsView {
  BitmapValues type = BitmapValues::q8;
  size_t n = 0, k = 0;
  size_t group = 32;                 // scale group, a multiple of 32 columns
  uint64_t nnz = 0;                  // stored entries
  const uint8_t* row_ptr = nullptr;  // n + 1 entry indices, row_ptr_width bytes each
  unsigned row_ptr_width = 4;
  const uint32_t* masks = nullptr;   // n · ceil(k/32) words
  const float* scales = nullptr;     // n · ceil(k/group)
  const uint8_t* values = nullptr;   // q8: nnz bytes; q4: ceil(nnz/2) bytes of nibbles

  size_t words_per_row() const { return (k + kBitmapWordColumns - 1) / kBitmapWordColumns; }
  size_t groups() const { return (k + group - 1) / group; }
};

// One microkernel call: weight rows [0, rows) of the tile times mr <= 4 activation rows.
struct BitmapGemmTile {
  size_t mr;
  const int8_t* x;         // quantized rows, groups·group bytes each, zero-padded to
  size_t x_stride;         // kBitmapRowAlign bytes (x_stride, a multiple of it, apart)
  const int32_t* x_sums;   // per row, its groups' Σqx, x_sums_stride apart
  size_t x_sums_stride;
  const float* x_scale;    // mr floats
  size_t rows;
  const uint64_t* first;   // rows entries: index of each row's first stored value
  const uint32_t* masks;   // words_per_row per row
  const float* scales;     // groups per row
  const uint8_t* values;   // the whole stream (entry indices are absolute); readable
                           // kBitmapValuesTail bytes past its end
  size_t words_per_row, groups, words_per_group;
  const float* bias;       // rows floats, or null
  float* y;                // y[i * y_stride + r]
  size_t y_stride;
};
using BitmapGemmUkernel = void (*)(const BitmapGemmTile&);
inline constexpr size_t kBitmapGemmMr = 4;
// Bytes the kernels may read past the last value (a 64-byte load at the last entry).
inline constexpr size_t kBitmapValuesTail = 64;
// The 4x1 kernels may read a quantized row of X in 64-byte steps up to this alignment.
inline constexpr size_t kBitmapRowAlign = 64;

void q8_bitmap_gemm_4x1__ref(const BitmapGemmTile& t);
void q4_bitmap_gemm_4x1__ref(const BitmapGemmTile& t);
void q8_bitmap_gemm_4x1__avx2(const BitmapGemmTile& t);
void q4_bitmap_gemm_4x1__avx2(const BitmapGemmTile& t);
void q8_bitmap_gemm_4x1__avx512vnni(const BitmapGemmTile& t);
void q4_bitmap_gemm_4x1__avx512vnni(const BitmapGemmTile& t);
void q8_bitmap_gemm_4x1__avx512vbmi2(const BitmapGemmTile& t);
void q4_bitmap_gemm_4x1__avx512vbmi2(const BitmapGemmTile& t);
void q8_bitmap_gemm_4x1__neon(const BitmapGemmTile& t);
void q4_bitmap_gemm_4x1__neon(const BitmapGemmTile& t);
void q8_bitmap_gemm_4x1__neon_dotprod(const BitmapGemmTile& t);
void q4_bitmap_gemm_4x1__neon_dotprod(const BitmapGemmTile& t);

// Prefill, step 1: weight rows [0, rows) of the tile expanded to dense bytes, column c of
// row r at w[r * w_stride + c] for c < 32 · words_per_row (k rounded up to whole words;
// nothing past it is written). The bytes are the weight codes as the config's expanded GEMM
// reads them: signed (s8), or + 128 as unsigned (u8, vpdpbusd's unsigned operand).
struct BitmapExpandTile {
  size_t rows;
  const uint64_t* first;  // rows entries: index of each row's first stored value
  const uint32_t* masks;  // words_per_row per row
  const uint8_t* values;  // the whole stream, as in BitmapGemmTile
  size_t words_per_row;
  uint8_t* w;
  size_t w_stride;
};
using BitmapExpandUkernel = void (*)(const BitmapExpandTile&);

// Prefill, step 2: y[i][r] for the mr <= MR rows of one X panel and the rows <= NR expanded
// weight rows of the tile, each by the arithmetic above. The panel holds the quantized rows
// of X one per 32-bit lane: for 4-column step s, MR rows x 4 bytes at x + s · 4 · MR (rows
// past mr zero), group j's sums Σqx (for the u8 kernels' 128 · Σqx offset) at
// x_sums + j · MR, the rows' scales at x_scale. Kernels may compute the padding rows and,
// past `rows`, repeats of the last weight row; neither is stored.
struct BitmapExpandedGemmTile {
  size_t mr;
  const int8_t* x;
  const int32_t* x_sums;  // groups x MR
  const float* x_scale;   // MR floats
  size_t rows;
  const uint8_t* w;       // the expand kernel's rows
  size_t w_stride;
  const float* scales;    // groups per row
  size_t groups;
  size_t group_steps;     // 4-column steps per scale group
  size_t steps;           // 4-column steps per row: 8 · words_per_row
  const float* bias;      // rows floats, or null
  float* y;               // y[i * y_stride + r]
  size_t y_stride;
};
using BitmapExpandedGemmUkernel = void (*)(const BitmapExpandedGemmTile&);

void q8_bitmap_expand_s8__ref(const BitmapExpandTile& t);
void q4_bitmap_expand_s8__ref(const BitmapExpandTile& t);
void q8_bitmap_expand_s8__avx2(const BitmapExpandTile& t);
void q4_bitmap_expand_s8__avx2(const BitmapExpandTile& t);
void q8_bitmap_expand_u8__avx512vnni(const BitmapExpandTile& t);
void q4_bitmap_expand_u8__avx512vnni(const BitmapExpandTile& t);
void q8_bitmap_expand_u8__avx512vbmi2(const BitmapExpandTile& t);
void q4_bitmap_expand_u8__avx512vbmi2(const BitmapExpandTile& t);
void q8_bitmap_expand_s8__neon(const BitmapExpandTile& t);
void q4_bitmap_expand_s8__neon(const BitmapExpandTile& t);
void s8_expanded_bitmap_gemm_4x4__ref(const BitmapExpandedGemmTile& t);
void s8_expanded_bitmap_gemm_8x2__avx2(const BitmapExpandedGemmTile& t);
void s8_expanded_bitmap_gemm_16x2__avx2(const BitmapExpandedGemmTile& t);
void u8_expanded_bitmap_gemm_16x8__avx512vnni(const BitmapExpandedGemmTile& t);
void u8_expanded_bitmap_gemm_32x8__avx512vnni(const BitmapExpandedGemmTile& t);
void s8_expanded_bitmap_gemm_8x2__neon(const BitmapExpandedGemmTile& t);
void s8_expanded_bitmap_gemm_16x2__neon(const BitmapExpandedGemmTile& t);
void s8_expanded_bitmap_gemm_8x4__neon_dotprod(const BitmapExpandedGemmTile& t);
void s8_expanded_bitmap_gemm_16x4__neon_dotprod(const BitmapExpandedGemmTile& t);

struct BitmapExpandedGemmKernel {
  BitmapExpandedGemmUkernel fn = nullptr;
  size_t mr = 0;  // X rows per panel
};

// The prefill path's kernels: the expansions paired with the GEMMs that read their bytes,
// a narrow GEMM for m <= its mr (fewer padding rows) and a wide one past it, both of nr
// weight rows; and from which m bitmap_matmul takes this path.
struct BitmapExpandedConfig {
  BitmapExpandUkernel q8 = nullptr, q4 = nullptr;
  BitmapExpandedGemmKernel narrow, wide;
  size_t nr = 0;
  size_t expand_min_m = 0;
};

struct BitmapGemmConfig {
  Isa isa = Isa::ref;
  QuantizeRowFn quantize_row = nullptr;
  BitmapGemmUkernel q8 = nullptr, q4 = nullptr;
  BitmapExpandedConfig expanded;
};

// The config of an ISA level (the best kernels this build has for it); the caller makes
// sure the CPU supports `isa`. The VNNI and AMX levels take the vpexpandb kernels when
// `features` has VBMI2, which no level requires (tests pass features without it to run the
// table kernels too).
BitmapGemmConfig bitmap_gemm_config_for(Isa isa, const CpuFeatures& features = cpu_info().features);

// A bitmap weight copied into kernel-owned storage (the value stream padded for the
// kernels' 8-byte loads), immutable after packing.
class PackedBitmapWeights {
 public:
  size_t n() const { return view_.n; }
  size_t k() const { return view_.k; }
  BitmapValues type() const { return view_.type; }
  const BitmapGemmConfig& config() const { return config_; }
  size_t packed_bytes() const;

 private:
  friend Result<PackedBitmapWeights> pack_bitmap_weights(const BitmapWeightsView&,
                                                         const BitmapGemmConfig&);
  friend void bitmap_matmul(const PackedBitmapWeights&, const float*, size_t, const float*,
                            float*, InputTransform);
  BitmapWeightsView view_;  // pointers into the vectors below
  BitmapGemmConfig config_;
  std::vector<uint64_t> first_;
  std::vector<uint32_t> masks_;
  std::vector<float> scales_;
  std::vector<uint8_t> values_;
};

// Checks the view (group, row pointers against the masks' bits) and copies it.
Result<PackedBitmapWeights> pack_bitmap_weights(const BitmapWeightsView& w,
                                                const BitmapGemmConfig& config);

// Y = f(X) · Wᵀ + bias (x: m rows of k floats, y: m rows of n, bias: n floats or null; f
// the identity when null, applied row by row as X is quantized) on num_threads() threads,
// each taking a contiguous range of weight rows. Below the config's expanded.expand_min_m, X
// rows go four at a time through each weight row, expanded once per four; from it on, each
// weight row is expanded once per call (the two paths above).
void bitmap_matmul(const PackedBitmapWeights& w, const float* x, size_t m, const float* bias,
                   float* y, InputTransform f = nullptr);

}  // namespace sparq::kernels
