// The AMX tile architecture in plain C++: eight tile registers of up to 16 rows x 64
// bytes, configured by a 64-byte palette-1 descriptor, with the instructions the sparq
// AMX kernels use. It lets those kernels — their tiling, packing and tile configuration —
// run on CPUs without AMX (tests plug EmulatedTiles in where the kernels take NativeTiles).
//
// Misuse that faults on hardware (no configuration, a tile used past its configured
// shape, mismatched tdpbusd / tdpbsud operands) is recorded, not executed: fault() returns the
// first such message from any thread and tests assert it stays empty. Tile registers and
// configuration are per thread, as on the hardware.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sparq::kernels::amx {

// The ldtilecfg memory operand (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette = 0;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};  // bytes per row, tiles 0..7 used
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64);

inline constexpr int kTiles = 8, kMaxRows = 16, kMaxColsb = 64;

namespace emulator {
void ldtilecfg(const TileConfig& cfg);
void tilerelease();
void tilezero(int tile);
void tileloadd(int tile, const void* base, size_t stride);
void tilestored(int tile, void* base, size_t stride);
// C[m][n] += Σ_k Σ_i u8(A[m][4k+i]) · s8(B[k][4n+i])   (int32 C, wrapping)
void tdpbusd(int c, int a, int b);
// C[m][n] += Σ_k Σ_i s8(A[m][4k+i]) · u8(B[k][4n+i])   (int32 C, wrapping)
void tdpbsud(int c, int a, int b);
// C[m][n] += Σ_k Σ_i bf16(A[m][2k+i]) · bf16(B[k][2n+i])   (f32 C)
void tdpbf16ps(int c, int a, int b);
// The first misuse since the last clear_fault(), or "".
std::string fault();
void clear_fault();
}  // namespace emulator

// Tile operations as the kernels call them (tile numbers are template arguments because
// the AMX intrinsics need them as constants).
struct EmulatedTiles {
  static void config(const TileConfig& c) { emulator::ldtilecfg(c); }
  static void release() { emulator::tilerelease(); }
  template <int T>
  static void zero() { emulator::tilezero(T); }
  template <int T>
  static void load(const void* base, size_t stride) { emulator::tileloadd(T, base, stride); }
  template <int T>
  static void store(void* base, size_t stride) { emulator::tilestored(T, base, stride); }
  template <int C, int A, int B>
  static void dpbsud() { emulator::tdpbsud(C, A, B); }
};

}  // namespace sparq::kernels::amx
