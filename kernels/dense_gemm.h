// Dense matmul of a linear layer: Y[m x n] = X[m x k] · Wᵀ + bias, W stored as n rows
// (outputs) of k columns. Weights come as a view of a portable .sparq encoding
// (formats/SPEC.md §5: f32, f16, bf16, q8 per-row or group-wise, q4 group-wise sym/asym;
// runtime/model/weight_views.h lays one over a tensor) and are packed once, at load time,
// into the layout of the kernel the dense-GEMM config chose for this process.
//
// f16 and bf16 weights stay 2 bytes each in their panels (decode streams half the bytes
// of f32) and are widened exactly to f32 as the kernel loads them; the arithmetic is then
// that of f32 weights: f32 products summed in f32.
//
// Quantized weights are multiplied with int8 activations: each row of X is quantized
// on the fly, symmetrically, to int8 with one scale per row (sx = max|x| / 127,
// q = clamp(round_half_even(x / sx), -127, 127)); dot products accumulate in int32 per
// weight group and the groups are combined in f32:
//   y[m][n] = sx[m] · Σ_g (sw[n][g] · Σ_{k∈g} qx[m][k] · qw[n][k] + mw[n][g] · Σ_{k∈g} qx[m][k])
// where qw is the signed q8 value or the signed q4 value (q − 8) for symmetric q4, and
// the asymmetric-q4 term mw·Σqx uses qw = q (0..15) and the group minimum mw.
// Accumulator headroom: every int32 sum covers one group (a whole row for per-row q8), and
// products are bounded by 255 · 127 (VNNI's u8 · s8 form), so groups up to 65,536
// columns cannot overflow; pack_dense_weights() refuses longer ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "formats/error.h"
#include "kernels/input_transform.h"
#include "kernels/isa.h"

namespace sparq::kernels {

inline constexpr size_t kMaxIntGroup = 65536;

enum class DenseType : uint8_t { f32, f16, bf16, q8, q4 };

std::string_view dense_type_name(DenseType type);  // "f32", "f16", ...

// f32, f16, bf16: multiplied as f32 values (the others as integers with scales).
constexpr bool dense_type_is_float(DenseType type) {
  return type == DenseType::f32 || type == DenseType::f16 || type == DenseType::bf16;
}

// A weight matrix in its portable encoding, laid over a (decompressed) .sparq payload.
// Nothing is copied; the payload must outlive the view.
struct DenseWeightsView {
  DenseType type = DenseType::f32;
  size_t n = 0, k = 0;         // rows (outputs) and columns (inputs)
  size_t group = 0;            // q8/q4: columns per group (k for per-row q8)
  bool asymmetric = false;     // q4 only
  const float* f32 = nullptr;  // f32: n·k values
  const uint16_t* halves = nullptr;  // f16/bf16: n·k bit patterns
  const float* scales = nullptr;  // q8/q4: n·groups()
  const float* mins = nullptr;    // asymmetric q4: n·groups()
  const uint8_t* values = nullptr;  // q8: int8 n·k; q4: n·ceil(k/2) nibble bytes

  size_t groups() const { return group == 0 ? 0 : (k + group - 1) / group; }
};

struct DenseGemmConfig;  // kernels/dense_gemm_config.h

// Weights packed for one kernel family; movable, immutable after packing.
class PackedDenseWeights {
 public:
  struct Storage;
  PackedDenseWeights();
  explicit PackedDenseWeights(std::unique_ptr<Storage> s);
  PackedDenseWeights(PackedDenseWeights&&) noexcept;
  PackedDenseWeights& operator=(PackedDenseWeights&&) noexcept;
  ~PackedDenseWeights();

  DenseType type() const;
  size_t n() const;
  size_t k() const;
  Isa isa() const;          // the level of the kernels these weights were packed for
  size_t packed_bytes() const;
  const Storage& storage() const { return *s_; }

 private:
  std::unique_ptr<Storage> s_;
};

// Packs for this process's config (dense_gemm_config()), or for an explicit one.
Result<PackedDenseWeights> pack_dense_weights(const DenseWeightsView& w);
Result<PackedDenseWeights> pack_dense_weights(const DenseWeightsView& w,
                                              const DenseGemmConfig& config);

// Y = f(X) · Wᵀ + bias with the kernels the weights were packed for (f the identity when
// null; q8/q4 apply it row by row as they quantize). x: m rows of k floats, y: m rows of n
// floats, bias: n floats or null. Runs on num_threads() threads, partitioning n; M = 1..4
// takes the config's GEMV kernel. Allocation-free after the first call of a thread at a
// given size (activation scratch is kept per thread).
void dense_matmul(const PackedDenseWeights& w, const float* x, size_t m, const float* bias,
                  float* y, InputTransform f = nullptr);

}  // namespace sparq::kernels
