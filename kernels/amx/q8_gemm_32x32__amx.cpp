#include <immintrin.h>

#include "kernels/amx/q8_gemm_32x32_template__amx.h"

namespace sparq::kernels {
namespace {

// GCC's tile intrinsics paste the tile number into the instruction text, so each needs a
// literal; these expand a constant template argument into one.
#define SPARQ_EACH_TILE(T, OP) \
  if constexpr (T == 0) OP(0);  \
  else if constexpr (T == 1) OP(1); \
  else if constexpr (T == 2) OP(2); \
  else if constexpr (T == 3) OP(3); \
  else if constexpr (T == 4) OP(4); \
  else if constexpr (T == 5) OP(5); \
  else if constexpr (T == 6) OP(6); \
  else OP(7)

// The tile operations as AMX instructions. The process must hold the Linux XTILEDATA
// permission, which cpu_info() requests before it reports AMX as usable.
struct NativeTiles {
  static void config(const amx::TileConfig& c) { _tile_loadconfig(&c); }
  static void release() { _tile_release(); }
  template <int T>
  static void zero() {
#define SPARQ_ZERO(n) _tile_zero(n)
    SPARQ_EACH_TILE(T, SPARQ_ZERO);
#undef SPARQ_ZERO
  }
  template <int T>
  static void load(const void* base, size_t stride) {
#define SPARQ_LOAD(n) _tile_loadd(n, base, stride)
    SPARQ_EACH_TILE(T, SPARQ_LOAD);
#undef SPARQ_LOAD
  }
  template <int T>
  static void store(void* base, size_t stride) {
#define SPARQ_STORE(n) _tile_stored(n, base, stride)
    SPARQ_EACH_TILE(T, SPARQ_STORE);
#undef SPARQ_STORE
  }
  // The accumulator picks the operands: C0 = A4·B6, C1 = A4·B7, C2 = A5·B6, C3 = A5·B7.
  template <int C, int A, int B>
  static void dpbsud() {
    static_assert(A == 4 + C / 2 && B == 6 + C % 2, "operand tiles follow the accumulator");
    if constexpr (C == 0) _tile_dpbsud(0, 4, 6);
    else if constexpr (C == 1) _tile_dpbsud(1, 4, 7);
    else if constexpr (C == 2) _tile_dpbsud(2, 5, 6);
    else _tile_dpbsud(3, 5, 7);
  }
};

#undef SPARQ_EACH_TILE

}  // namespace

void q8_gemm_32x32__amx(const QGemmTile& t) { amx::q8_gemm_32x32<NativeTiles>(t); }

}  // namespace sparq::kernels
