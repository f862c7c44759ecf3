// The prefill expansion (kernels/bitmap_gemm.h) by table and tbl, as signed bytes for the
// s8 expanded GEMMs of every aarch64 level (the expansion needs nothing past base NEON).
#include "kernels/neon/bitmap_gemm_template__neon.h"

namespace sparq::kernels {

void q8_bitmap_expand_s8__neon(const BitmapExpandTile& t) { bitmap_expand_rows_neon<expand_q8>(t); }
void q4_bitmap_expand_s8__neon(const BitmapExpandTile& t) { bitmap_expand_rows_neon<expand_q4>(t); }

}  // namespace sparq::kernels
