// The transformer-ops kernels for AVX-512 (16 f32 lanes, masked tails).
#include "kernels/avx512/f32x16__avx512.h"
#include "kernels/transformer_ops_simd.h"

namespace sparq::kernels {

TransformerOpsConfig transformer_ops_config__avx512() {
  return simd::config<F32x16>(Isa::avx512, "avx512");
}

}  // namespace sparq::kernels
