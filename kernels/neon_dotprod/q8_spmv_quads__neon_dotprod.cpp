// q8 SpMV on quads, neon-dotprod (kernels/neon/q8_quads_template__neon.h):
// one sdot per 4-column dot product.
#include "kernels/neon/q8_quads_template__neon.h"

namespace sparq::kernels {

SPARQ_Q8_SPMV_QUADS(neon_dotprod, Sdot)

}  // namespace sparq::kernels
