#include "kernels/ref/amx_tile_emulator.h"

#include <cstring>
#include <mutex>

namespace sparq::kernels::amx::emulator {
namespace {

struct TileState {
  bool configured = false;
  TileConfig cfg;
  alignas(64) uint8_t data[kTiles][kMaxRows][kMaxColsb] = {};
};
// Tile registers are per thread, like the hardware's; the fault log is shared so a test
// sees misuse on any of the kernel's threads.
thread_local TileState state;
std::mutex fault_mutex;
std::string first_fault;

bool fail(const std::string& what) {
  std::lock_guard<std::mutex> lock(fault_mutex);
  if (first_fault.empty()) first_fault = what;
  return false;
}

bool usable(int tile, const char* op) {
  if (!state.configured) return fail(std::string(op) + ": tiles not configured");
  if (tile < 0 || tile >= kTiles) return fail(std::string(op) + ": no tile " + std::to_string(tile));
  if (state.cfg.rows[tile] == 0 || state.cfg.colsb[tile] == 0) {
    return fail(std::string(op) + ": tile " + std::to_string(tile) + " is not configured");
  }
  return true;
}

float bf16_value(const uint8_t* p) {
  uint32_t bits = uint32_t(p[0] | (p[1] << 8)) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

void ldtilecfg(const TileConfig& cfg) {
  if (cfg.palette != 1) {
    fail("ldtilecfg: palette " + std::to_string(cfg.palette) + " (only 1 is emulated)");
    return;
  }
  for (int t = 0; t < kTiles; ++t) {
    if (cfg.rows[t] > kMaxRows || cfg.colsb[t] > kMaxColsb || (cfg.rows[t] == 0) != (cfg.colsb[t] == 0)) {
      fail("ldtilecfg: tile " + std::to_string(t) + " shape out of range");
      return;
    }
  }
  state.cfg = cfg;
  state.configured = true;
  std::memset(state.data, 0, sizeof(state.data));  // ldtilecfg zeroes every tile
}

void tilerelease() {
  state.configured = false;
  std::memset(state.data, 0, sizeof(state.data));
}

void tilezero(int tile) {
  if (usable(tile, "tilezero")) std::memset(state.data[tile], 0, sizeof(state.data[tile]));
}

void tileloadd(int tile, const void* base, size_t stride) {
  if (!usable(tile, "tileloadd")) return;
  std::memset(state.data[tile], 0, sizeof(state.data[tile]));
  const auto* src = static_cast<const uint8_t*>(base);
  for (int r = 0; r < state.cfg.rows[tile]; ++r) {
    std::memcpy(state.data[tile][r], src + r * stride, state.cfg.colsb[tile]);
  }
}

void tilestored(int tile, void* base, size_t stride) {
  if (!usable(tile, "tilestored")) return;
  auto* dst = static_cast<uint8_t*>(base);
  for (int r = 0; r < state.cfg.rows[tile]; ++r) {
    std::memcpy(dst + r * stride, state.data[tile][r], state.cfg.colsb[tile]);
  }
}

namespace {
// The operand-shape rules tdpbusd and tdpbf16ps share: C is A.rows x B.colsb, and A's
// row length matches B's rows (4 bytes per B row for int8, 4 bytes = 2 bf16 as well).
bool shapes_match(int c, int a, int b, const char* op) {
  if (!usable(c, op) || !usable(a, op) || !usable(b, op)) return false;
  if (c == a || c == b || a == b) return fail(std::string(op) + ": operands must be distinct tiles");
  const TileConfig& k = state.cfg;
  if (k.rows[c] != k.rows[a] || k.colsb[c] != k.colsb[b] || k.colsb[a] != 4 * k.rows[b] ||
      k.colsb[c] % 4 != 0) {
    return fail(std::string(op) + ": tile shapes do not match");
  }
  return true;
}
}  // namespace

namespace {
// C[m][n] += Σ A[m][4k+i] · B[k][4n+i] over int8 bytes read as signed or unsigned.
template <bool kASigned, bool kBSigned>
void int8_dot(int c, int a, int b, const char* op) {
  if (!shapes_match(c, a, b, op)) return;
  const TileConfig& k = state.cfg;
  auto value = [](uint8_t byte, bool is_signed) {
    return is_signed ? int32_t(static_cast<int8_t>(byte)) : int32_t(byte);
  };
  for (int m = 0; m < k.rows[c]; ++m) {
    for (int n = 0; n < k.colsb[c] / 4; ++n) {
      int32_t acc;
      std::memcpy(&acc, &state.data[c][m][4 * n], 4);
      uint32_t sum = uint32_t(acc);  // wraps like the hardware
      for (int kk = 0; kk < k.rows[b]; ++kk) {
        for (int i = 0; i < 4; ++i) {
          const int32_t av = value(state.data[a][m][4 * kk + i], kASigned);
          const int32_t bv = value(state.data[b][kk][4 * n + i], kBSigned);
          sum += uint32_t(av * bv);
        }
      }
      acc = int32_t(sum);
      std::memcpy(&state.data[c][m][4 * n], &acc, 4);
    }
  }
}
}  // namespace

void tdpbusd(int c, int a, int b) { int8_dot<false, true>(c, a, b, "tdpbusd"); }
void tdpbsud(int c, int a, int b) { int8_dot<true, false>(c, a, b, "tdpbsud"); }

void tdpbf16ps(int c, int a, int b) {
  if (!shapes_match(c, a, b, "tdpbf16ps")) return;
  const TileConfig& k = state.cfg;
  for (int m = 0; m < k.rows[c]; ++m) {
    for (int n = 0; n < k.colsb[c] / 4; ++n) {
      float acc;
      std::memcpy(&acc, &state.data[c][m][4 * n], 4);
      for (int kk = 0; kk < k.rows[b]; ++kk) {
        const float pair = bf16_value(&state.data[a][m][4 * kk]) * bf16_value(&state.data[b][kk][4 * n]) +
                           bf16_value(&state.data[a][m][4 * kk + 2]) * bf16_value(&state.data[b][kk][4 * n + 2]);
        acc += pair;
      }
      std::memcpy(&state.data[c][m][4 * n], &acc, 4);
    }
  }
}

std::string fault() {
  std::lock_guard<std::mutex> lock(fault_mutex);
  return first_fault;
}
void clear_fault() {
  std::lock_guard<std::mutex> lock(fault_mutex);
  first_fault.clear();
}

}  // namespace sparq::kernels::amx::emulator
