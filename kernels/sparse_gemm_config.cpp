// The sparse matmul config: chosen once per process from selected_isa(). Operators ask
// the config; only this file knows which ISA has which kernel.
#include "kernels/sparse_gemm.h"

namespace sparq::kernels {

// Every q8 kernel family has the same four entry points.
#define SPARQ_DECLARE_Q8_SPARSE_KERNELS(suffix)                                              \
  void q8_spmm_1x4__##suffix(const QuadPackedQ8&, size_t, size_t, const uint8_t*,           \
                             const float*, size_t, const float*, float*, size_t, bool);     \
  void q8_spmm_4x4__##suffix(const QuadPackedQ8&, size_t, size_t, const uint8_t*,           \
                             const float*, size_t, const float*, float*, size_t, bool);     \
  void q8_spmv_1x4__##suffix(const QuadPackedQ8&, size_t, size_t, const uint8_t*, float,    \
                             const float*, float*);                                         \
  void q8_spmv_4x4__##suffix(const QuadPackedQ8&, size_t, size_t, const uint8_t*, float,    \
                             const float*, float*);
#define SPARQ_USE_Q8_SPARSE_KERNELS(c, suffix, panel_rows) \
  do {                                                     \
    (c).q8_spmm_1x4 = q8_spmm_1x4__##suffix;               \
    (c).q8_spmm_4x4 = q8_spmm_4x4__##suffix;               \
    (c).q8_spmv_1x4 = q8_spmv_1x4__##suffix;               \
    (c).q8_spmv_4x4 = q8_spmv_4x4__##suffix;               \
    (c).q8_panel_rows = (panel_rows);                      \
  } while (0)

#if SPARQ_HAVE_AVX2
SPARQ_DECLARE_Q8_SPARSE_KERNELS(avx2)
void pack_q8_panel__avx2(const float*, size_t, size_t, size_t, uint8_t*, float*);
#endif
#if SPARQ_HAVE_AVX512VNNI
SPARQ_DECLARE_Q8_SPARSE_KERNELS(avx512vnni)
#endif
#if SPARQ_HAVE_AVX512
void f32_spmm_csr__avx512(const CsrPackedF32&, size_t, size_t, const float*, size_t,
                          const float*, float*, size_t);
void f32_spmv_csr__avx512(const CsrPackedF32&, size_t, size_t, const float*, const float*,
                          float*);
void pack_q8_panel__avx512(const float*, size_t, size_t, size_t, uint8_t*, float*);
void pack_f32_panel__avx512(const float*, size_t, size_t, size_t, float*);
#endif
#if SPARQ_HAVE_NEON
SPARQ_DECLARE_Q8_SPARSE_KERNELS(neon)
#endif
#if SPARQ_HAVE_NEON_DOTPROD
SPARQ_DECLARE_Q8_SPARSE_KERNELS(neon_dotprod)
#endif

SparseGemmConfig sparse_gemm_config_for(Isa isa) {
  SparseGemmConfig c;
  c.isa = isa;
#if SPARQ_HAVE_AVX2
  // AVX-512 without VNNI has no u8·s8 dot product either: the AVX2 q8 kernels serve it.
  if (isa == Isa::avx2 || isa == Isa::avx512) SPARQ_USE_Q8_SPARSE_KERNELS(c, avx2, kQ8PanelRowsAvx2);
  if (isa == Isa::avx2) c.pack_q8_panel = pack_q8_panel__avx2;
#endif
#if SPARQ_HAVE_AVX512
  const bool avx512 = isa == Isa::avx512 || isa == Isa::avx512vnni || isa == Isa::amx;
  if (avx512) {
    c.f32_spmm = f32_spmm_csr__avx512;
    c.f32_spmv = f32_spmv_csr__avx512;
    c.pack_q8_panel = pack_q8_panel__avx512;
    c.pack_f32_panel = pack_f32_panel__avx512;
  }
#endif
#if SPARQ_HAVE_AVX512VNNI
  if (isa == Isa::avx512vnni || isa == Isa::amx) {
    SPARQ_USE_Q8_SPARSE_KERNELS(c, avx512vnni, kQ8PanelRowsAvx512);
  }
#endif
#if SPARQ_HAVE_NEON
  if (isa == Isa::neon) SPARQ_USE_Q8_SPARSE_KERNELS(c, neon, kQ8PanelRowsNeon);
#endif
#if SPARQ_HAVE_NEON_DOTPROD
  if (isa == Isa::neon_dotprod || isa == Isa::neon_i8mm) {
    SPARQ_USE_Q8_SPARSE_KERNELS(c, neon_dotprod, kQ8PanelRowsNeon);
  }
#endif
  return c;
}

Result<const SparseGemmConfig*> sparse_gemm_config() {
  static const Result<SparseGemmConfig> config = []() -> Result<SparseGemmConfig> {
    auto isa = selected_isa();
    if (!isa) return isa.error();
    return sparse_gemm_config_for(*isa);
  }();
  if (!config) return config.error();
  return &config.value();
}

}  // namespace sparq::kernels
