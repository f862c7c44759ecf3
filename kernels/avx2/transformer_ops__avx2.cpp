// The transformer-ops kernels for AVX2 + FMA (8 f32 lanes, maskload tails).
#include "kernels/avx2/f32x8__avx2.h"
#include "kernels/transformer_ops_simd.h"

namespace sparq::kernels {

TransformerOpsConfig transformer_ops_config__avx2() {
  return simd::config<F32x8>(Isa::avx2, "avx2");
}

}  // namespace sparq::kernels
