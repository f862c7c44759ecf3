// The transformer-ops kernels for aarch64 NEON (4 f32 lanes).
#include "kernels/neon/f32x4__neon.h"
#include "kernels/transformer_ops_simd.h"

namespace sparq::kernels {

TransformerOpsConfig transformer_ops_config__neon() {
  return simd::config<F32x4>(Isa::neon, "neon");
}

}  // namespace sparq::kernels
