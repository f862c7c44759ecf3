// ISA levels against their definition: which features each level needs (from the level
// table in kernels/isa.h's brief), name round trips, and the SPARQ_ISA decision.
#include "kernels/isa.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>

namespace sparq::kernels {
namespace {

const std::pair<Isa, const char*> kAllLevels[] = {
    {Isa::ref, "ref"},           {Isa::avx2, "avx2"},         {Isa::avx512, "avx512"},
    {Isa::avx512vnni, "avx512vnni"}, {Isa::amx, "amx"},      {Isa::neon, "neon"},
    {Isa::neon_dotprod, "neon-dotprod"}, {Isa::neon_i8mm, "neon-i8mm"},
};

CpuFeatures haswell() {
  CpuFeatures f;
  f.sse42 = f.avx = f.avx2 = f.fma = f.f16c = true;
  return f;
}
CpuFeatures skylake_x() {
  CpuFeatures f = haswell();
  f.avx512f = f.avx512bw = f.avx512vl = f.avx512dq = true;
  return f;
}
CpuFeatures zen4() {
  CpuFeatures f = skylake_x();
  f.avx512vnni = f.avx512bf16 = f.avx_vnni = true;
  return f;
}
CpuFeatures sapphire_rapids() {
  CpuFeatures f = zen4();
  f.amx_tile = f.amx_int8 = f.amx_bf16 = true;
  return f;
}
CpuFeatures graviton3() {
  CpuFeatures f;
  f.neon = f.dotprod = f.i8mm = f.sve = f.arm_bf16 = true;
  return f;
}

TEST(Isa, NamesRoundTrip) {
  for (const auto& [isa, name] : kAllLevels) {
    EXPECT_EQ(isa_name(isa), name);
    Result<Isa> parsed = parse_isa(name);
    ASSERT_TRUE(parsed.ok()) << name;
    EXPECT_EQ(*parsed, isa);
  }
}

TEST(Isa, UnknownNameIsUsageErrorListingValidNames) {
  for (const char* bad : {"bogus", "AVX2", "neon_dotprod", ""}) {
    Result<Isa> parsed = parse_isa(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().kind(), ErrorKind::invalid_argument);
    for (const auto& [isa, name] : kAllLevels)
      EXPECT_NE(parsed.error().message().find(name), std::string::npos) << name;
  }
}

TEST(Isa, RefAlwaysSupportedAndFirst) {
  for (const CpuFeatures& f : {CpuFeatures{}, haswell(), sapphire_rapids(), graviton3()}) {
    EXPECT_TRUE(isa_supported(Isa::ref, f));
    ASSERT_FALSE(supported_isas(f).empty());
    EXPECT_EQ(supported_isas(f).front(), Isa::ref);
  }
  EXPECT_EQ(best_isa(CpuFeatures{}), Isa::ref);
}

TEST(Isa, Avx2NeedsAvx2FmaAndF16c) {
  EXPECT_TRUE(isa_supported(Isa::avx2, haswell()));
  for (bool CpuFeatures::*drop : {&CpuFeatures::avx2, &CpuFeatures::fma, &CpuFeatures::f16c}) {
    CpuFeatures f = haswell();
    f.*drop = false;
    EXPECT_FALSE(isa_supported(Isa::avx2, f));
    EXPECT_EQ(best_isa(f), Isa::ref);
  }
}

TEST(Isa, Avx512NeedsFBwVlDqOnTopOfAvx2) {
  EXPECT_TRUE(isa_supported(Isa::avx512, skylake_x()));
  EXPECT_FALSE(isa_supported(Isa::avx512vnni, skylake_x()));
  for (bool CpuFeatures::*drop : {&CpuFeatures::avx512f, &CpuFeatures::avx512bw,
                                  &CpuFeatures::avx512vl, &CpuFeatures::avx512dq,
                                  &CpuFeatures::fma}) {
    CpuFeatures f = skylake_x();
    f.*drop = false;
    EXPECT_FALSE(isa_supported(Isa::avx512, f));
  }
}

TEST(Isa, Avx512VnniNeedsVnniButNotBf16) {
  CpuFeatures f = zen4();
  EXPECT_TRUE(isa_supported(Isa::avx512vnni, f));
  f.avx512bf16 = false;  // Ice Lake: VNNI without BF16
  EXPECT_TRUE(isa_supported(Isa::avx512vnni, f));
  f.avx512vnni = false;
  EXPECT_FALSE(isa_supported(Isa::avx512vnni, f));
  CpuFeatures vnni_only;  // VNNI reported without the AVX-512 base is not enough
  vnni_only.avx512vnni = true;
  EXPECT_FALSE(isa_supported(Isa::avx512vnni, vnni_only));
}

TEST(Isa, AmxNeedsTileInt8AndAvx512Vnni) {
  EXPECT_TRUE(isa_supported(Isa::amx, sapphire_rapids()));
  EXPECT_FALSE(isa_supported(Isa::amx, zen4()));
  for (bool CpuFeatures::*drop :
       {&CpuFeatures::amx_tile, &CpuFeatures::amx_int8, &CpuFeatures::avx512vnni}) {
    CpuFeatures f = sapphire_rapids();
    f.*drop = false;
    EXPECT_FALSE(isa_supported(Isa::amx, f));
  }
  CpuFeatures no_amx_bf16 = sapphire_rapids();
  no_amx_bf16.amx_bf16 = false;
  EXPECT_TRUE(isa_supported(Isa::amx, no_amx_bf16));
}

TEST(Isa, NeonLevels) {
  CpuFeatures f = graviton3();
  EXPECT_TRUE(isa_supported(Isa::neon_i8mm, f));
  f.i8mm = false;
  EXPECT_FALSE(isa_supported(Isa::neon_i8mm, f));
  EXPECT_TRUE(isa_supported(Isa::neon_dotprod, f));
  f.dotprod = false;
  EXPECT_FALSE(isa_supported(Isa::neon_dotprod, f));
  EXPECT_TRUE(isa_supported(Isa::neon, f));
  for (Isa x86 : {Isa::avx2, Isa::avx512, Isa::avx512vnni, Isa::amx})
    EXPECT_FALSE(isa_supported(x86, graviton3()));
  for (Isa arm : {Isa::neon, Isa::neon_dotprod, Isa::neon_i8mm})
    EXPECT_FALSE(isa_supported(arm, sapphire_rapids()));
}

TEST(Isa, BestIsMostSpecialisedSupported) {
  EXPECT_EQ(best_isa(haswell()), Isa::avx2);
  EXPECT_EQ(best_isa(skylake_x()), Isa::avx512);
  EXPECT_EQ(best_isa(zen4()), Isa::avx512vnni);
  EXPECT_EQ(best_isa(sapphire_rapids()), Isa::amx);
  EXPECT_EQ(best_isa(graviton3()), Isa::neon_i8mm);
  CpuFeatures neoverse_n1 = graviton3();
  neoverse_n1.i8mm = neoverse_n1.sve = neoverse_n1.arm_bf16 = false;
  EXPECT_EQ(best_isa(neoverse_n1), Isa::neon_dotprod);
  EXPECT_EQ(supported_isas(sapphire_rapids()),
            (std::vector<Isa>{Isa::ref, Isa::avx2, Isa::avx512, Isa::avx512vnni, Isa::amx}));
}

TEST(Isa, MissingFeaturesNamesWhatIsAbsent) {
  EXPECT_TRUE(missing_features(Isa::amx, sapphire_rapids()).empty());
  EXPECT_EQ(missing_features(Isa::amx, zen4()), (std::vector<std::string>{"amx_tile", "amx_int8"}));
  EXPECT_EQ(missing_features(Isa::neon_i8mm, CpuFeatures{}),
            (std::vector<std::string>{"neon", "dotprod", "i8mm"}));
}

TEST(Isa, ResolveWithoutEnvPicksBest) {
  EXPECT_EQ(*resolve_isa(nullptr, zen4()), Isa::avx512vnni);
  EXPECT_EQ(*resolve_isa("", sapphire_rapids()), Isa::amx);
}

TEST(Isa, ResolveHonoursSupportedRequest) {
  EXPECT_EQ(*resolve_isa("avx2", sapphire_rapids()), Isa::avx2);
  EXPECT_EQ(*resolve_isa("ref", graviton3()), Isa::ref);
  EXPECT_EQ(*resolve_isa("neon-dotprod", graviton3()), Isa::neon_dotprod);
}

TEST(Isa, ResolveUnknownNameIsUsageError) {
  Result<Isa> r = resolve_isa("avx1024", zen4());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::invalid_argument);
  EXPECT_NE(r.error().message().find("SPARQ_ISA"), std::string::npos);
  EXPECT_NE(r.error().message().find("avx512vnni"), std::string::npos);
  EXPECT_NE(r.error().message().find("neon-i8mm"), std::string::npos);
}

TEST(Isa, ResolveUnsupportedLevelNamesMissingFeatures) {
  Result<Isa> r = resolve_isa("amx", zen4());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::unsupported);
  EXPECT_NE(r.error().message().find("amx_tile"), std::string::npos);
  EXPECT_NE(r.error().message().find("amx_int8"), std::string::npos);
  EXPECT_EQ(r.error().message().find("avx512vnni"), std::string::npos);  // that one is present
}

TEST(Isa, ThisProcessSelectionMatchesTheDecisionRule) {
  const CpuFeatures& f = cpu_info().features;
  EXPECT_TRUE(isa_supported(best_isa(f), f));
  for (Isa isa : supported_isas(f)) EXPECT_TRUE(isa_supported(isa, f));
  Result<Isa> selected = selected_isa();
  Result<Isa> expected = resolve_isa(std::getenv("SPARQ_ISA"), f);
  ASSERT_EQ(selected.ok(), expected.ok());
  if (selected.ok()) EXPECT_EQ(*selected, *expected);
}

}  // namespace
}  // namespace sparq::kernels
