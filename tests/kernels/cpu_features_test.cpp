// cpu_info() against sources that do not go through it: the kernel's /proc/cpuinfo (x86
// "flags", Arm "Features"), the raw auxiliary vector in /proc/self/auxv, glibc's sysconf.
#include "kernels/cpu_features.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

namespace sparq::kernels {
namespace {

// Every "key : value" line of /proc/cpuinfo, keyed by key, one value per processor.
std::multimap<std::string, std::string> cpuinfo() {
  std::multimap<std::string, std::string> fields;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    key.erase(key.find_last_not_of(" \t") + 1);
    size_t v = line.find_first_not_of(" \t", colon + 1);
    fields.emplace(key, v == std::string::npos ? "" : line.substr(v));
  }
  return fields;
}

std::set<std::string> words(const std::string& text) {
  std::set<std::string> out;
  std::istringstream ss(text);
  for (std::string w; ss >> w;) out.insert(w);
  return out;
}

TEST(CpuFeatures, ArchMatchesTheBuild) {
#if defined(__x86_64__)
  EXPECT_EQ(cpu_info().arch, "x86_64");
#elif defined(__aarch64__)
  EXPECT_EQ(cpu_info().arch, "aarch64");
#endif
  EXPECT_FALSE(cpu_info().model_name.empty());
  EXPECT_FALSE(cpu_info().vendor.empty());
}

TEST(CpuFeatures, DetectedOnceAndCached) { EXPECT_EQ(&cpu_info(), &cpu_info()); }

#if defined(__x86_64__)

TEST(CpuFeatures, X86FeaturesMatchKernelFlags) {
  auto info = cpuinfo();
  auto flags_line = info.find("flags");
  ASSERT_NE(flags_line, info.end()) << "/proc/cpuinfo has no flags line";
  std::set<std::string> flags = words(flags_line->second);
  const CpuFeatures& f = cpu_info().features;
  // The kernel clears a flag whose register state it does not enable, so its flags are
  // the OS-enabled view, like CpuInfo::features.
  const std::pair<bool, const char*> checks[] = {
      {f.sse42, "sse4_2"},          {f.avx, "avx"},
      {f.avx2, "avx2"},             {f.fma, "fma"},
      {f.f16c, "f16c"},             {f.avx_vnni, "avx_vnni"},
      {f.avx512f, "avx512f"},       {f.avx512bw, "avx512bw"},
      {f.avx512vl, "avx512vl"},     {f.avx512dq, "avx512dq"},
      {f.avx512vnni, "avx512_vnni"}, {f.avx512bf16, "avx512_bf16"},
      {f.amx_tile, "amx_tile"},     {f.amx_int8, "amx_int8"},
      {f.amx_bf16, "amx_bf16"},     {f.avx512vbmi2, "avx512_vbmi2"},
      {f.avx512vbmi, "avx512vbmi"},
  };
  for (const auto& [detected, flag] : checks) EXPECT_EQ(detected, flags.count(flag) == 1) << flag;
  for (bool arm : {f.neon, f.dotprod, f.i8mm, f.sve, f.arm_bf16}) EXPECT_FALSE(arm);
}

TEST(CpuFeatures, X86UsableFeaturesAreReportedByTheCpu) {
  const CpuFeatures& f = cpu_info().features;
  const CpuFeatures& raw = cpu_info().cpu_reports;
  for (const std::string& name : feature_names(f)) {
    std::vector<std::string> reported = feature_names(raw);
    EXPECT_NE(std::find(reported.begin(), reported.end(), name), reported.end()) << name;
  }
}

TEST(CpuFeatures, X86VendorAndBrandMatchCpuinfo) {
  auto info = cpuinfo();
  EXPECT_EQ(cpu_info().vendor, info.find("vendor_id")->second);
  EXPECT_EQ(cpu_info().model_name, info.find("model name")->second);
}

TEST(CpuFeatures, X86L1DataCacheMatchesGlibc) {
  long glibc_l1d = sysconf(_SC_LEVEL1_DCACHE_SIZE);  // glibc reads CPUID, not sysfs
  ASSERT_GT(glibc_l1d, 0);
  bool found = false;
  for (const auto& c : cpu_info().caches)
    if (c.level == 1 && c.type == "Data") {
      EXPECT_EQ(c.size_bytes, static_cast<uint64_t>(glibc_l1d));
      found = true;
    }
  EXPECT_TRUE(found);
}

TEST(CpuFeatures, X86TopologyMatchesCpuinfoIds) {
  auto info = cpuinfo();
  std::set<std::string> packages;
  std::set<std::pair<std::string, std::string>> cores;
  auto phys = info.equal_range("physical id");
  auto core = info.equal_range("core id");
  for (auto p = phys.first, c = core.first; p != phys.second && c != core.second; ++p, ++c) {
    packages.insert(p->second);
    cores.insert({p->second, c->second});
  }
  ASSERT_FALSE(cores.empty());
  EXPECT_EQ(cpu_info().sockets, static_cast<int>(packages.size()));
  EXPECT_EQ(cpu_info().cores, static_cast<int>(cores.size()));
}

#elif defined(__aarch64__)

// The auxiliary vector as the kernel (or qemu) passed it, read without getauxval.
std::map<uint64_t, uint64_t> raw_auxv() {
  std::map<uint64_t, uint64_t> entries;
  std::ifstream in("/proc/self/auxv", std::ios::binary);
  uint64_t pair[2];
  while (in.read(reinterpret_cast<char*>(pair), sizeof pair) && pair[0] != 0) entries[pair[0]] = pair[1];
  return entries;
}

TEST(CpuFeatures, ArmFeaturesMatchRawAuxv) {
  constexpr uint64_t kAtHwcap = 16, kAtHwcap2 = 26;  // Linux ABI constants
  auto auxv = raw_auxv();
  ASSERT_TRUE(auxv.count(kAtHwcap));
  uint64_t hwcap = auxv[kAtHwcap], hwcap2 = auxv.count(kAtHwcap2) ? auxv[kAtHwcap2] : 0;
  const CpuFeatures& f = cpu_info().features;
  EXPECT_EQ(f.neon, ((hwcap >> 1) & 1) == 1);      // HWCAP_ASIMD
  EXPECT_EQ(f.dotprod, ((hwcap >> 20) & 1) == 1);  // HWCAP_ASIMDDP
  EXPECT_EQ(f.sve, ((hwcap >> 22) & 1) == 1);      // HWCAP_SVE
  EXPECT_EQ(f.i8mm, ((hwcap2 >> 13) & 1) == 1);    // HWCAP2_I8MM
  EXPECT_EQ(f.arm_bf16, ((hwcap2 >> 14) & 1) == 1);  // HWCAP2_BF16
}

TEST(CpuFeatures, ArmFeaturesMatchCpuinfoWhenItDescribesAnArmCpu) {
  const CpuFeatures& f = cpu_info().features;
  EXPECT_TRUE(f.neon);  // Advanced SIMD is mandatory in the AArch64 Linux ABI
  auto info = cpuinfo();
  auto features = info.find("Features");
  if (features == info.end()) {
    // Under qemu-user /proc/cpuinfo is the host's; the extensions still imply their base.
    if (f.dotprod || f.i8mm) EXPECT_TRUE(f.neon);
    if (f.i8mm) EXPECT_TRUE(f.dotprod);
    return;
  }
  std::set<std::string> names = words(features->second);
  EXPECT_EQ(f.neon, names.count("asimd") == 1);
  EXPECT_EQ(f.dotprod, names.count("asimddp") == 1);
  EXPECT_EQ(f.i8mm, names.count("i8mm") == 1);
  EXPECT_EQ(f.sve, names.count("sve") == 1);
  EXPECT_EQ(f.arm_bf16, names.count("bf16") == 1);
}

#endif

TEST(CpuFeatures, ThreadsMatchSysconf) {
  EXPECT_EQ(cpu_info().threads, sysconf(_SC_NPROCESSORS_ONLN));
}

TEST(CpuFeatures, TopologyIsConsistent) {
  const CpuInfo& cpu = cpu_info();
  EXPECT_GE(cpu.sockets, 1);
  EXPECT_LE(cpu.sockets, cpu.cores);
  EXPECT_LE(cpu.cores, cpu.threads);
}

TEST(CpuFeatures, CachesMatchSysfsShape) {
  const CpuInfo& cpu = cpu_info();
  // Caches come from sysfs, or on x86-64 from CPUID; an aarch64 guest without sysfs caches
  // (qemu on such a host) has no source, and then the list must be empty, not invented.
  const bool sysfs = std::ifstream("/sys/devices/system/cpu/cpu0/cache/index0/level").good();
#if defined(__x86_64__)
  const bool expected = true;
#else
  const bool expected = sysfs;
#endif
  ASSERT_EQ(!cpu.caches.empty(), expected) << "sysfs caches: " << sysfs;
  for (const auto& c : cpu.caches) {
    EXPECT_GE(c.level, 1);
    EXPECT_LE(c.level, 4);
    EXPECT_TRUE(c.type == "Data" || c.type == "Instruction" || c.type == "Unified") << c.type;
    EXPECT_GT(c.size_bytes, 0u);
    EXPECT_GE(c.shared_by_cpus, 1);
    EXPECT_LE(c.shared_by_cpus, cpu.threads);
  }
}

TEST(CpuFeatures, FeatureNamesFollowTheFields) {
  CpuFeatures f;
  EXPECT_TRUE(feature_names(f).empty());
  f.fma = f.avx2 = f.amx_int8 = true;
  EXPECT_EQ(feature_names(f), (std::vector<std::string>{"avx2", "fma", "amx_int8"}));
  CpuFeatures arm;
  arm.neon = arm.i8mm = true;
  EXPECT_EQ(feature_names(arm), (std::vector<std::string>{"neon", "i8mm"}));
}

TEST(CpuFeatures, ArchFeatureNamesCoverEveryDetectedFeature) {
  std::vector<std::string> all = arch_feature_names();
  for (const std::string& name : feature_names(cpu_info().cpu_reports))
    EXPECT_NE(std::find(all.begin(), all.end(), name), all.end()) << name;
#if defined(__x86_64__)
  EXPECT_NE(std::find(all.begin(), all.end(), "avx512vnni"), all.end());
  EXPECT_EQ(std::find(all.begin(), all.end(), "neon"), all.end());
#endif
}

}  // namespace
}  // namespace sparq::kernels
