#include "kernels/dense_gemm_config.h"

#include <string>

namespace sparq::kernels {
namespace {

// Packings shared by the kernel families: q8 as 4-column dwords (one vpdpbusd / sdot
// lane), q4 as 8-column nibble dwords (two lanes after unpacking).
constexpr DensePacking q8_dword(size_t nr, bool unsigned_q8) {
  return {.nr = nr, .kc = 4, .group_align = 4, .q4_nibbles = true, .q8_unsigned = unsigned_q8};
}
constexpr DensePacking q4_nibble_dword(size_t nr) {
  return {.nr = nr, .kc = 8, .group_align = 8, .q4_nibbles = true, .q8_unsigned = false};
}

DenseGemmConfig ref_config() {
  DenseGemmConfig c;
  c.isa = Isa::ref;
  c.name = "ref";
  c.f32 = {f32_gemm_4x8__ref, 4, 8};
  c.f16 = {8, {f16_gemm_4x8__ref, 4}, {f16_gemm_4x8__ref, 4}};
  c.bf16 = {8, {bf16_gemm_4x8__ref, 4}, {bf16_gemm_4x8__ref, 4}};
  c.quantize_row = q8_quantize_row__ref;
  c.q8 = {q8_dword(8, false), {q8_gemm_4x8__ref, 4}, {q8_gemm_4x8__ref, 4}};
  c.q4 = {q4_nibble_dword(8), {q4_gemm_4x8__ref, 4}, {q4_gemm_4x8__ref, 4}};
  return c;
}

#if SPARQ_HAVE_AVX2
DenseGemmConfig avx2_config(Isa isa, const char* name) {
  DenseGemmConfig c;
  c.isa = isa;
  c.name = name;
  c.f32 = {f32_gemm_6x16__avx2, 6, 16};
  // f16 widens with F16C's vcvtph2ps (the level requires F16C), bf16 with a 16-bit shift.
  c.f16 = {16, {f16_gemm_6x16__avx2, 6}, {f16_gemv_4x16__avx2, 4}};
  c.bf16 = {16, {bf16_gemm_6x16__avx2, 6}, {bf16_gemv_4x16__avx2, 4}};
  c.quantize_row = q8_quantize_row__avx2;
  // vpmaddubsw saturates u8·s8 pairs above 32767, so q8 stays signed and the kernel
  // multiplies |w| by x with w's sign (pairs ≤ 2·128·127).
  c.q8 = {q8_dword(16, false), {q8_gemm_4x16__avx2, 4}, {q8_gemm_4x16__avx2, 4}};
  c.q4 = {q4_nibble_dword(16), {q4_gemm_4x16__avx2, 4}, {q4_gemm_4x16__avx2, 4}};
  return c;
}
#endif

#if SPARQ_HAVE_AVX512
DenseGemmConfig avx512_config() {
  DenseGemmConfig c = avx2_config(Isa::avx512, "avx512");
  c.f32 = {f32_gemm_8x32__avx512, 8, 32};
  c.f16 = {32, {f16_gemm_8x32__avx512, 8}, {f16_gemv_4x32__avx512, 4}};
  c.bf16 = {32, {bf16_gemm_8x32__avx512, 8}, {bf16_gemv_4x32__avx512, 4}};
  c.quantize_row = q8_quantize_row__avx512;
  return c;
}
#endif

#if SPARQ_HAVE_AVX512VNNI
DenseGemmConfig avx512vnni_config() {
  DenseGemmConfig c = avx512_config();
  c.isa = Isa::avx512vnni;
  c.name = "avx512vnni";
  // vpdpbusd multiplies u8 by s8: weights are the unsigned operand (q8 + 128, q4 nibbles),
  // activations the signed one, and the zero point comes off as 128·Σx per row and group.
  c.q8 = {q8_dword(32, true), {q8_gemm_8x32__avx512vnni, 8}, {q8_gemm_4x32__avx512vnni, 4}};
  c.q4 = {q4_nibble_dword(32), {q4_gemm_6x32__avx512vnni, 6}, {q4_gemm_4x32__avx512vnni, 4}};
  return c;
}
#endif

#if SPARQ_HAVE_AMX
// q8 keeps the VNNI panel layout (32 outputs x 4 columns per 128 bytes), which is also the
// AMX B-tile order of two 16-output tiles, with groups padded to whole 64-column tiles:
// one packing serves the tile kernel (M > 4) and the bandwidth-bound VNNI GEMV (M <= 4).
// The tile kernel takes up to 256 rows per call so its tile configuration is amortised
// over eight 32 x 32 blocks that share the weight panel in L1. Only q8 uses the tiles:
// group-wise q4 would store and rescale the accumulator tiles every 32..128 columns,
// which costs more than the tiles gain, so q4 keeps the VNNI kernels, and so does q8 with
// groups that are not whole tiles (GGUF Q8_0's 32 columns).
DenseGemmConfig amx_config(QGemmUkernel q8, const char* name) {
  DenseGemmConfig c = avx512vnni_config();
  c.isa = Isa::amx;
  c.name = name;
  c.q8_short_groups = c.q8;
  DensePacking tiles = c.q8.packing;
  tiles.group_align = 64;
  c.q8 = {tiles, {q8, 256}, c.q8.gemv};
  return c;
}
#endif

#if SPARQ_HAVE_NEON
DenseGemmConfig neon_config(Isa isa, const char* name, QGemmUkernel q8, QGemmUkernel q4) {
  DenseGemmConfig c;
  c.isa = isa;
  c.name = name;
  c.f32 = {f32_gemm_6x16__neon, 6, 16};
  // fcvtl (f16) and ushll #16 (bf16) widen in base Armv8-A.
  c.f16 = {16, {f16_gemm_6x16__neon, 6}, {f16_gemv_4x16__neon, 4}};
  c.bf16 = {16, {bf16_gemm_6x16__neon, 6}, {bf16_gemv_4x16__neon, 4}};
  c.quantize_row = q8_quantize_row__ref;
  // sdot is s8·s8: q8 stays signed; q4 nibbles 0..15 are valid s8 as they are.
  c.q8 = {q8_dword(16, false), {q8, 4}, {q8, 4}};
  c.q4 = {q4_nibble_dword(16), {q4, 4}, {q4, 4}};
  return c;
}
#endif

// Null when this build has no kernels for `isa`.
const DenseGemmConfig* build_config(Isa isa) {
  switch (isa) {
    case Isa::ref: {
      static const DenseGemmConfig c = ref_config();
      return &c;
    }
#if SPARQ_HAVE_AVX2
    case Isa::avx2: {
      static const DenseGemmConfig c = avx2_config(Isa::avx2, "avx2");
      return &c;
    }
#endif
#if SPARQ_HAVE_AVX512
    case Isa::avx512: {
      static const DenseGemmConfig c = avx512_config();
      return &c;
    }
#endif
#if SPARQ_HAVE_AVX512VNNI
    case Isa::avx512vnni: {
      static const DenseGemmConfig c = avx512vnni_config();
      return &c;
    }
#endif
#if SPARQ_HAVE_AMX
    case Isa::amx: {
      static const DenseGemmConfig c = amx_config(q8_gemm_32x32__amx, "amx");
      return &c;
    }
#endif
#if SPARQ_HAVE_NEON
    case Isa::neon: {
      static const DenseGemmConfig c =
          neon_config(Isa::neon, "neon", q8_gemm_4x16__neon, q4_gemm_4x16__neon);
      return &c;
    }
#endif
#if SPARQ_HAVE_NEON_DOTPROD
    case Isa::neon_dotprod:
    case Isa::neon_i8mm: {
      static const DenseGemmConfig c = neon_config(
          Isa::neon_dotprod, "neon-dotprod", q8_gemm_4x16__neon_dotprod, q4_gemm_4x16__neon_dotprod);
      return &c;
    }
#endif
    default:
      return nullptr;
  }
}

}  // namespace

Result<const DenseGemmConfig*> dense_gemm_config_for(Isa isa) {
  if (!isa_supported(isa, cpu_info().features)) {
    return Error("dense gemm: ISA level '" + std::string(isa_name(isa)) +
                     "' is not supported by this CPU/OS",
                 ErrorKind::unsupported);
  }
  const DenseGemmConfig* c = build_config(isa);
  if (c == nullptr) {
    return Error("dense gemm: this build has no kernels for ISA level '" +
                     std::string(isa_name(isa)) + "'",
                 ErrorKind::unsupported);
  }
  return c;
}

const DenseGemmConfig& dense_gemm_config() {
  static const DenseGemmConfig* chosen = [] {
    Result<Isa> isa = selected_isa();
    const Isa level = isa.ok() ? *isa : best_isa(cpu_info().features);
    Result<const DenseGemmConfig*> c = dense_gemm_config_for(level);
    return c.ok() ? *c : build_config(Isa::ref);
  }();
  return *chosen;
}

const DenseGemmConfig* amx_emulated_dense_gemm_config() {
#if SPARQ_HAVE_AMX
  static const DenseGemmConfig c = amx_config(q8_gemm_32x32__amx_emulated, "amx-emulated");
  return &c;
#else
  return nullptr;
#endif
}

}  // namespace sparq::kernels
