// The sparse matmul config: chosen once per process from selected_isa(). Operators ask
// the config; only this file knows which ISA has which kernel.
#include "kernels/sparse_gemm.h"

namespace sparq::kernels {

#if SPARQ_HAVE_AVX512
void q8_spmm_1x4__avx512vnni(const QuadPackedQ8&, size_t, size_t, const uint8_t*,
                             const float*, size_t, const float*, float*, size_t);
void q8_spmm_4x4__avx512vnni(const QuadPackedQ8&, size_t, size_t, const uint8_t*,
                             const float*, size_t, const float*, float*, size_t);
void q8_spmv_1x4__avx512vnni(const QuadPackedQ8&, size_t, size_t, const uint8_t*, float,
                             const float*, float*);
void q8_spmv_4x4__avx512vnni(const QuadPackedQ8&, size_t, size_t, const uint8_t*, float,
                             const float*, float*);
void f32_spmm_csr__avx512(const CsrPackedF32&, size_t, size_t, const float*, size_t,
                          const float*, float*, size_t);
void f32_spmv_csr__avx512(const CsrPackedF32&, size_t, size_t, const float*, const float*,
                          float*);
void pack_q8_panel__avx512(const float*, size_t, size_t, size_t, uint8_t*, float*);
void pack_f32_panel__avx512(const float*, size_t, size_t, size_t, float*);
#endif

SparseGemmConfig sparse_gemm_config_for(Isa isa) {
  SparseGemmConfig c;
  c.isa = isa;
#if SPARQ_HAVE_AVX512
  const bool avx512 = isa == Isa::avx512 || isa == Isa::avx512vnni || isa == Isa::amx;
  const bool vnni = isa == Isa::avx512vnni || isa == Isa::amx;
  if (avx512) {
    c.f32_spmm = f32_spmm_csr__avx512;
    c.f32_spmv = f32_spmv_csr__avx512;
    c.pack_q8_panel = pack_q8_panel__avx512;
    c.pack_f32_panel = pack_f32_panel__avx512;
  }
  if (vnni) {
    c.q8_spmm_1x4 = q8_spmm_1x4__avx512vnni;
    c.q8_spmm_4x4 = q8_spmm_4x4__avx512vnni;
    c.q8_spmv_1x4 = q8_spmv_1x4__avx512vnni;
    c.q8_spmv_4x4 = q8_spmv_4x4__avx512vnni;
    c.q8_panel_rows = kQ8PanelRowsAvx512;
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
