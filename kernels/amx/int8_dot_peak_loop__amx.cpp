// Peak int8 throughput with AMX: tdpbssd multiplies a 16x64 s8 tile by a 64x16 s8 tile into
// a 16x16 i32 tile (16384 multiply-adds). Four accumulator tiles from two A and two B tiles,
// the 2x2 blocking AMX GEMMs use. Needs the XTILEDATA permission cpu_info() requests.
#include <immintrin.h>

#include <cstring>

#include "kernels/peak_loops.h"

namespace sparq::kernels {
namespace {

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

}  // namespace

PeakRun int8_dot_peak_loop__amx(uint64_t iterations) {
  constexpr int kRows = 16, kRowBytes = 64;
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.rows[t] = kRows;
    config.bytes_per_row[t] = kRowBytes;
  }
  alignas(64) int8_t ones[kRows * kRowBytes];
  std::memset(ones, 1, sizeof ones);

  _tile_loadconfig(&config);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, ones, kRowBytes);
  _tile_loadd(5, ones, kRowBytes);
  _tile_loadd(6, ones, kRowBytes);
  _tile_loadd(7, ones, kRowBytes);
  for (uint64_t i = 0; i < iterations; ++i) {
    _tile_dpbssd(0, 4, 6);
    _tile_dpbssd(1, 4, 7);
    _tile_dpbssd(2, 5, 6);
    _tile_dpbssd(3, 5, 7);
  }
  alignas(64) int32_t c[4][kRows * 16];
  _tile_stored(0, c[0], kRowBytes);
  _tile_stored(1, c[1], kRowBytes);
  _tile_stored(2, c[2], kRowBytes);
  _tile_stored(3, c[3], kRowBytes);
  _tile_release();

  double checksum = 0;
  for (const auto& tile : c)
    for (int32_t v : tile) checksum += v;
  constexpr double kMacsPerTdp = kRows * 16 * kRowBytes;
  return {2.0 * 4 * kMacsPerTdp * static_cast<double>(iterations), checksum};
}

}  // namespace sparq::kernels
