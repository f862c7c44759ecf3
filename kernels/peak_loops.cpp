// Which peak loops belong to which ISA level. Only levels whose folder this build compiled
// (SPARQ_HAVE_<LEVEL>) can be named; the rest fall back to the scalar loops.
#include "kernels/peak_loops.h"

namespace sparq::kernels {

PeakLoops peak_loops_for(Isa isa) {
  switch (isa) {
#if defined(SPARQ_HAVE_AVX2)
    case Isa::avx2:
      return {f32_fma_peak_loop__avx2, int8_dot_peak_loop__avx2};
#endif
#if defined(SPARQ_HAVE_AVX512)
    case Isa::avx512:
      return {f32_fma_peak_loop__avx512, int8_dot_peak_loop__avx512};
#endif
#if defined(SPARQ_HAVE_AVX512) && defined(SPARQ_HAVE_AVX512VNNI)
    case Isa::avx512vnni:
      return {f32_fma_peak_loop__avx512, int8_dot_peak_loop__avx512vnni};
#endif
#if defined(SPARQ_HAVE_AVX512) && defined(SPARQ_HAVE_AMX)
    case Isa::amx:
      return {f32_fma_peak_loop__avx512, int8_dot_peak_loop__amx};
#endif
#if defined(SPARQ_HAVE_NEON)
    case Isa::neon:
      return {f32_fma_peak_loop__neon, int8_dot_peak_loop__neon};
#endif
#if defined(SPARQ_HAVE_NEON) && defined(SPARQ_HAVE_NEON_DOTPROD)
    case Isa::neon_dotprod:
      return {f32_fma_peak_loop__neon, int8_dot_peak_loop__neon_dotprod};
#endif
#if defined(SPARQ_HAVE_NEON) && defined(SPARQ_HAVE_NEON_I8MM)
    case Isa::neon_i8mm:
      return {f32_fma_peak_loop__neon, int8_dot_peak_loop__neon_i8mm};
#endif
    default:
      return {f32_fma_peak_loop__ref, int8_dot_peak_loop__ref};
  }
}

}  // namespace sparq::kernels
