// Each peak loop, on every ISA level this CPU can run, does exactly the work it reports:
// its accumulators end at the value the documented arithmetic (x*1 + 1/1024 per f32 lane,
// 1 x 1 per int8 multiply-add) predicts from its own op count, and the op count scales
// linearly with the iterations.
#include "kernels/peak_loops.h"

#include <gtest/gtest.h>

namespace sparq::kernels {
namespace {

TEST(PeakLoops, F32ChecksumMatchesOpCountOnEverySupportedIsa) {
  for (Isa isa : supported_isas(cpu_info().features)) {
    SCOPED_TRACE(std::string(isa_name(isa)));
    PeakLoop loop = peak_loops_for(isa).f32_fma;
    ASSERT_NE(loop, nullptr);
    PeakRun run = loop(1000), twice = loop(2000);
    EXPECT_GT(run.ops, 0);
    EXPECT_EQ(twice.ops, 2 * run.ops);
    EXPECT_EQ(run.checksum, run.ops / 2 * kPeakF32Addend);
    EXPECT_EQ(twice.checksum, twice.ops / 2 * kPeakF32Addend);
    EXPECT_EQ(loop(0).ops, 0);
  }
}

TEST(PeakLoops, Int8ChecksumMatchesOpCountOnEverySupportedIsa) {
  for (Isa isa : supported_isas(cpu_info().features)) {
    SCOPED_TRACE(std::string(isa_name(isa)));
    PeakLoop loop = peak_loops_for(isa).int8_dot;
    ASSERT_NE(loop, nullptr);
    PeakRun run = loop(1000), twice = loop(2000);
    EXPECT_GT(run.ops, 0);
    EXPECT_EQ(twice.ops, 2 * run.ops);
    EXPECT_EQ(run.checksum, run.ops / 2);
    EXPECT_EQ(twice.checksum, twice.ops / 2);
    EXPECT_EQ(loop(0).checksum, 0);
  }
}

TEST(PeakLoops, SpecialisedLevelsUseWiderUnitsThanRef) {
  // Per iteration, a SIMD level's loop must do more work than the scalar one, or it is
  // not measuring that level's units.
  PeakRun ref_f32 = f32_fma_peak_loop__ref(100), ref_int8 = int8_dot_peak_loop__ref(100);
  for (Isa isa : supported_isas(cpu_info().features)) {
    if (isa == Isa::ref) continue;
    SCOPED_TRACE(std::string(isa_name(isa)));
    EXPECT_GT(peak_loops_for(isa).f32_fma(100).ops, ref_f32.ops);
    EXPECT_GT(peak_loops_for(isa).int8_dot(100).ops, ref_int8.ops);
  }
}

}  // namespace
}  // namespace sparq::kernels
