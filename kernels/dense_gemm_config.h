// One dense-GEMM config per process (XNNPACK style, see ../shared/STYLE.md): the
// microkernels and tile sizes for each weight type, chosen once from selected_isa().
// Operators ask the config; they never test CPU flags. Tests and benchmarks may ask for
// the config of any level this CPU supports.
#pragma once

#include <cstddef>
#include <cstdint>

#include "formats/error.h"
#include "kernels/dense_gemm_ukernel.h"
#include "kernels/isa.h"

namespace sparq::kernels {

// How a kernel family wants quantized weights laid out (kernels/pack_dense.h). A panel
// holds `nr` outputs; along k each group is padded with zeros to a multiple of
// group_align, then cut into chunks of `kc` columns; a chunk stores, per output, its kc
// values contiguously (kc bytes, or kc/2 bytes when q4 stays as nibbles: byte i holds
// column i in the low nibble and column i + kc/2 in the high nibble).
struct DensePacking {
  size_t nr = 8;
  size_t kc = 4;
  size_t group_align = 4;
  bool q4_nibbles = true;
  bool q8_unsigned = false;  // store q8 as q + 128 (the u8 operand of vpdpbusd / tdpbusd)
};

struct F32GemmKernel {
  F32GemmUkernel fn = nullptr;
  size_t mr = 0, nr = 0;
};

struct HalfGemmKernel {
  HalfGemmUkernel fn = nullptr;
  size_t mr = 0;
};

// f16 or bf16 weights in the f32 panel layout (kernels/pack_dense.h) with 2-byte values.
struct HalfTypeConfig {
  size_t nr = 0;
  HalfGemmKernel gemm;  // any m
  HalfGemmKernel gemv;  // m <= gemv.mr (decode)
};

struct QGemmKernel {
  QGemmUkernel fn = nullptr;
  size_t mr = 0;
};

struct QTypeConfig {
  DensePacking packing;
  QGemmKernel gemm;  // any m
  QGemmKernel gemv;  // m <= gemv.mr (decode); same packing as gemm
};

struct DenseGemmConfig {
  Isa isa = Isa::ref;
  const char* name = "";  // "avx512vnni", "amx-emulated", ...
  F32GemmKernel f32;
  HalfTypeConfig f16, bf16;
  QuantizeRowFn quantize_row = nullptr;
  QTypeConfig q8, q4;
  // When set: q8 weights whose quantization group is not a whole number of
  // q8.packing.group_align columns take this instead of having every group padded (AMX's
  // 64-column tiles would pad GGUF Q8_0's 32-column groups to twice the bytes, and decode
  // reads every byte).
  QTypeConfig q8_short_groups;

  const QTypeConfig& q8_for_group(size_t group) const {
    const bool fits = group % q8.packing.group_align == 0;
    return fits || !q8_short_groups.gemm.fn ? q8 : q8_short_groups;
  }
};

// The config for selected_isa(), filled on first call. If SPARQ_ISA is invalid the error
// is reported by selected_isa(); this falls back to the best level so kernels still run.
const DenseGemmConfig& dense_gemm_config();

// The config for an explicit level: an error if the CPU/OS cannot run it or this build
// lacks its kernels.
Result<const DenseGemmConfig*> dense_gemm_config_for(Isa isa);

// The AMX config with every tile instruction emulated in plain C++, so the AMX kernels'
// tiling, packing and tile configuration run on CPUs without AMX (needs AVX-512 for the
// kernels' epilogues). Null when this build has no AMX kernels.
const DenseGemmConfig* amx_emulated_dense_gemm_config();

}  // namespace sparq::kernels
