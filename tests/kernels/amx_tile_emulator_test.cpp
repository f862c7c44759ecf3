// The AMX tile emulator against a direct scalar statement of each instruction, its fault
// recording, and — where the CPU has AMX — against the hardware through the dense kernel.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#if SPARQ_HAVE_AMX
#include "kernels/ref/amx_tile_emulator.h"
#include "kernels/dense_gemm_config.h"
#include "kernels/cpu_features.h"
#include "tests/kernels/dense_gemm_tester.h"

namespace sparq::kernels::amx {
namespace {

namespace emu = emulator;

TileConfig shapes(int c_rows, int c_colsb, int a_colsb, int b_rows) {
  TileConfig cfg;
  cfg.palette = 1;
  cfg.rows[0] = uint8_t(c_rows), cfg.colsb[0] = uint16_t(c_colsb);
  cfg.rows[1] = uint8_t(c_rows), cfg.colsb[1] = uint16_t(a_colsb);
  cfg.rows[2] = uint8_t(b_rows), cfg.colsb[2] = uint16_t(c_colsb);
  return cfg;
}

// One int8 tile product against Σ A·B over bytes read with the stated signedness.
void check_int8_dot(void (*op)(int, int, int), bool a_signed, bool b_signed) {
  std::mt19937 rng(1);
  const int M = 13, N = 11, K4 = 9;  // partial tiles: 13 rows, 44-byte C rows, 36-byte A rows
  std::vector<uint8_t> a(M * 64), b(K4 * 64);
  std::vector<int32_t> c0(M * 16);
  for (auto& v : a) v = uint8_t(rng());
  for (auto& v : b) v = uint8_t(rng());
  for (auto& v : c0) v = int32_t(rng() % 1000) - 500;
  a[0] = 255, b[0] = 0x80;  // u8 255 · s8 −128, or s8 −1 · u8 128
  a[1] = 0x80, b[1] = 255;  // the other extreme pair

  emu::clear_fault();
  emu::ldtilecfg(shapes(M, N * 4, K4 * 4, K4));
  emu::tileloadd(0, c0.data(), 64);
  emu::tileloadd(1, a.data(), 64);
  emu::tileloadd(2, b.data(), 64);
  op(0, 1, 2);
  std::vector<int32_t> c(M * 16, 7);
  emu::tilestored(0, c.data(), 64);
  emu::tilerelease();
  ASSERT_EQ(emu::fault(), "");

  auto value = [](uint8_t byte, bool is_signed) { return is_signed ? int64_t(int8_t(byte)) : int64_t(byte); };
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      int64_t want = c0[m * 16 + n];
      for (int k = 0; k < K4 * 4; ++k) {
        want += value(a[m * 64 + k], a_signed) * value(b[(k / 4) * 64 + n * 4 + k % 4], b_signed);
      }
      EXPECT_EQ(c[m * 16 + n], int32_t(want)) << m << "," << n;
    }
    for (int n = N; n < 16; ++n) EXPECT_EQ(c[m * 16 + n], 7) << "stored past colsb";
  }
}

TEST(AmxTileEmulator, TdpbusdIsUnsignedTimesSignedDotOfFourBytes) {
  check_int8_dot(emu::tdpbusd, false, true);
}

TEST(AmxTileEmulator, TdpbsudIsSignedTimesUnsignedDotOfFourBytes) {
  check_int8_dot(emu::tdpbsud, true, false);
}

TEST(AmxTileEmulator, Tdpbf16psIsBf16PairDotIntoF32) {
  auto bf16 = [](float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return uint16_t(u >> 16);
  };
  const int M = 4, N = 3, K2 = 5;  // C 4 x 3 f32, A 4 x 10 bf16, B 5 x (3 x 2) bf16
  std::vector<uint16_t> a(M * 32), b(K2 * 32);
  std::vector<float> fa(M * 32), fb(K2 * 32);
  for (size_t i = 0; i < a.size(); ++i) a[i] = bf16(float(int(i % 7) - 3) * 0.5f);
  for (size_t i = 0; i < b.size(); ++i) b[i] = bf16(float(int(i % 5) - 2) * 0.25f);
  emu::clear_fault();
  emu::ldtilecfg(shapes(M, N * 4, K2 * 4, K2));
  emu::tilezero(0);
  emu::tileloadd(1, a.data(), 64);
  emu::tileloadd(2, b.data(), 64);
  emu::tdpbf16ps(0, 1, 2);
  std::vector<float> c(M * 16);
  emu::tilestored(0, c.data(), 64);
  ASSERT_EQ(emu::fault(), "");
  auto value = [](uint16_t h) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      double want = 0.0;  // small multiples of 1/8: exact in f32
      for (int k = 0; k < K2 * 2; ++k) want += double(value(a[m * 32 + k])) * value(b[(k / 2) * 32 + n * 2 + k % 2]);
      EXPECT_EQ(c[m * 16 + n], float(want));
    }
  }
}

TEST(AmxTileEmulator, RecordsMisuseInsteadOfComputing) {
  emu::clear_fault();
  emu::tilerelease();
  emu::tilezero(0);
  EXPECT_NE(emu::fault().find("not configured"), std::string::npos) << emu::fault();

  emu::clear_fault();
  emu::ldtilecfg(shapes(16, 64, 64, 8));  // A has 16 dwords per row, B only 8 rows
  emu::tdpbusd(0, 1, 2);
  EXPECT_NE(emu::fault().find("shapes"), std::string::npos) << emu::fault();

  emu::clear_fault();
  TileConfig bad = shapes(16, 64, 64, 16);
  bad.colsb[3] = 65;
  bad.rows[3] = 1;
  emu::ldtilecfg(bad);
  EXPECT_NE(emu::fault().find("out of range"), std::string::npos) << emu::fault();
  emu::clear_fault();
}

// The dense AMX kernel through the emulator leaves no fault behind (its tile shapes and
// operand pairs are legal); DenseGemm/amx_emulated checks its numbers.
TEST(AmxTileEmulator, DenseKernelUsesTilesLegally) {
  if (!isa_supported(Isa::avx512vnni, cpu_info().features)) {
    GTEST_SKIP() << "the emulated AMX config runs AVX-512 epilogues and the VNNI GEMV, and this "
                    "CPU has no AVX-512 VNNI";
  }
  emu::clear_fault();
  const DenseGemmConfig* c = amx_emulated_dense_gemm_config();
  ASSERT_NE(c, nullptr);
  kernels::test::DenseGemmTester().m(33).n(40).k(130).type(DenseType::q8).Test(*c);
  kernels::test::DenseGemmTester().m(3).n(40).k(130).type(DenseType::q8).group(32).Test(*c);
  EXPECT_EQ(emu::fault(), "");
}

}  // namespace
}  // namespace sparq::kernels::amx
#endif
