// q8 SpMM and SpMV on quads with dotprod (kernels/neon/q8_sparse_quads_neon.h): one sdot
// per 4-column dot product.
#include <arm_neon.h>

#include "kernels/neon/q8_sparse_quads_neon.h"

namespace sparq::kernels {
namespace {

struct Sdot {
  static int32x4_t dot(int32x4_t acc, int8x16_t x, int8x16_t w) { return vdotq_s32(acc, x, w); }
};

}  // namespace

SPARQ_SPARSE_NEON_KERNELS(neon_dotprod, Sdot)

}  // namespace sparq::kernels
