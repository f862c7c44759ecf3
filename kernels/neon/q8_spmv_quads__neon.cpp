// q8 SpMV on quads, neon (kernels/neon/q8_quads_template__neon.h):
// the 4-column dot products by smull/smull2, addp and sadalp.
#include "kernels/neon/q8_quads_template__neon.h"

namespace sparq::kernels {

SPARQ_Q8_SPMV_QUADS(neon, Widening)

}  // namespace sparq::kernels
