// q8 SpMM and SpMV on quads for plain NEON (kernels/neon/q8_sparse_quads_neon.h): the
// 4-column dot products by smull/smull2, addp and sadalp.
#include <arm_neon.h>

#include "kernels/neon/q8_sparse_quads_neon.h"

namespace sparq::kernels {
namespace {

struct Widening {
  static int32x4_t dot(int32x4_t acc, int8x16_t x, int8x16_t w) {
    const int16x8_t pairs = vpaddq_s16(vmull_s8(vget_low_s8(x), vget_low_s8(w)),
                                       vmull_high_s8(x, w));
    return vpadalq_s16(acc, pairs);
  }
};

}  // namespace

SPARQ_SPARSE_NEON_KERNELS(neon, Widening)

}  // namespace sparq::kernels
