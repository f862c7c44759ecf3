// Activation panels for the AVX2 sparse q8 kernels (pack_sparse.h): each row of X quantized
// by the rule of quantize_row_q8__ref (kernels/avx2/q8_row__avx2.h), stored as u8 (q + 128)
// quads in K-major panel order. Bytes and scales are identical to pack_q8_panel__ref's.
#include <algorithm>
#include <cstring>

#include "kernels/avx2/q8_row__avx2.h"
#include "kernels/pack_sparse.h"
#include "kernels/q8_inverse_scale.h"

namespace sparq::kernels {

void pack_q8_panel__avx2(const float* x, size_t rows, size_t k, size_t panel_rows,
                         uint8_t* panel, float* scales) {
  const size_t k4 = (k + 3) / 4;
  const size_t stride = panel_rows * 4;  // bytes between quads of one row
  // q + 128 as a byte is q's byte with the top bit flipped.
  constexpr uint64_t kOffset = 0x8080808080808080ull;
  for (size_t m = 0; m < rows; ++m) {
    const float* xm = x + m * k;
    const float amax = avx2::abs_max(xm, k);
    const __m256 inv = _mm256_set1_ps(q8_inverse_scale(amax));
    scales[m] = amax / 127.0f;
    uint8_t* out = panel + m * 4;
    // Columns past k quantize to 0, i.e. 0x80, which is the padding the kernels expect.
    for (size_t c = 0; c < k4 * 4; c += 8) {
      const size_t n = k > c ? std::min<size_t>(k - c, 8) : 0;
      const uint64_t bytes = (n ? avx2::to_bytes(avx2::quantize8(xm + c, n, inv)) : 0) ^ kOffset;
      const auto* quads = reinterpret_cast<const uint8_t*>(&bytes);
      std::memcpy(out + (c / 4) * stride, quads, 4);
      if (c / 4 + 1 < k4) std::memcpy(out + (c / 4 + 1) * stride, quads + 4, 4);
    }
  }
  for (size_t m = rows; m < panel_rows; ++m) {
    scales[m] = 0.0f;
    for (size_t q = 0; q < k4; ++q) std::memset(panel + q * stride + m * 4, 0x80, 4);
  }
}

}  // namespace sparq::kernels
