// `sparq hwinfo` end to end: the JSON fingerprint's documented keys, its agreement with the
// library's own detection and with the kernel's view of the CPU, measured figures within
// physical bounds, and SPARQ_ISA errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "cli_runner.h"
#include "kernels/cpu_features.h"
#include "kernels/isa.h"

namespace sparq::tools {
namespace {

using nlohmann::json;
using sparq::test::run_sparq;
using sparq::test::ScopedEnv;

json run_json(const std::vector<std::string>& args) {
  sparq::test::CliResult r = run_sparq(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return json::parse(r.out);
}

bool contains(const json& array, const std::string& name) {
  return std::find(array.begin(), array.end(), name) != array.end();
}

TEST(HwinfoCli, JsonWithoutMeasurementHasTheDocumentedKeys) {
  json j = run_json({"hwinfo", "--json", "--no-measure"});
  EXPECT_EQ(j.at("version"), 1);
  const json& cpu = j.at("cpu");
  for (const char* key : {"model", "arch", "vendor"}) EXPECT_TRUE(cpu.at(key).is_string()) << key;
  for (const char* key : {"sockets", "cores", "threads"}) EXPECT_GE(cpu.at(key).get<int>(), 1) << key;
  ASSERT_TRUE(cpu.at("caches").is_array());
  for (const json& c : cpu.at("caches"))
    for (const char* key : {"level", "type", "size_bytes", "shared_by_cpus"}) EXPECT_TRUE(c.contains(key)) << key;
  EXPECT_TRUE(j.at("features").is_array());
  EXPECT_TRUE(j.at("os_disabled_features").is_array());
  const json& isa = j.at("isa");
  EXPECT_EQ(isa.at("source"), "best");
  EXPECT_EQ(isa.at("selected"), isa.at("best"));
  EXPECT_TRUE(contains(isa.at("available"), isa.at("selected")));
  EXPECT_EQ(isa.at("available").front(), "ref");
  ASSERT_FALSE(j.at("numa").empty());
  for (const json& n : j.at("numa")) {
    EXPECT_GE(n.at("node").get<int>(), 0);
    EXPECT_GT(n.at("memory_bytes").get<uint64_t>(), 0u);
  }
  EXPECT_TRUE(j.at("measured").is_null());
}

TEST(HwinfoCli, JsonAgreesWithLibraryDetection) {
  json j = run_json({"hwinfo", "--json", "--no-measure"});
  const kernels::CpuInfo& cpu = kernels::cpu_info();
  EXPECT_EQ(j.at("cpu").at("arch"), cpu.arch);
  EXPECT_EQ(j.at("cpu").at("threads").get<long>(), sysconf(_SC_NPROCESSORS_ONLN));
  EXPECT_EQ(j.at("features").get<std::vector<std::string>>(), kernels::feature_names(cpu.features));
  EXPECT_EQ(j.at("isa").at("best"), std::string(kernels::isa_name(kernels::best_isa(cpu.features))));
}

#if defined(__x86_64__)
TEST(HwinfoCli, X86FeaturesAgreeWithKernelFlags) {
  std::ifstream in("/proc/cpuinfo");
  std::set<std::string> flags;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("flags", 0) == 0) {
      std::istringstream ss(line.substr(line.find(':') + 1));
      for (std::string w; ss >> w;) flags.insert(w);
      break;
    }
  ASSERT_FALSE(flags.empty());
  json features = run_json({"hwinfo", "--json", "--no-measure"}).at("features");
  EXPECT_EQ(contains(features, "avx512vnni"), flags.count("avx512_vnni") == 1);
  EXPECT_EQ(contains(features, "avx512bf16"), flags.count("avx512_bf16") == 1);
  EXPECT_EQ(contains(features, "amx_tile"), flags.count("amx_tile") == 1);
  EXPECT_EQ(contains(features, "amx_int8"), flags.count("amx_int8") == 1);
}
#endif

TEST(HwinfoCli, MeasuredFiguresArePositiveAndPhysicallyBounded) {
  const bool emulated = std::string(SPARQ_CLI_EMULATOR).size() > 0;
  // Under qemu streaming hundreds of MiB takes minutes; small arrays still test the
  // plumbing and the bounds.
  const std::string threads = "2";
  std::vector<std::string> args = {"hwinfo", "--json", "--threads", threads};
  if (emulated) args.insert(args.end(), {"--bandwidth-mib", "8"});
  json j = run_json(args);
  const json& m = j.at("measured");
  ASSERT_TRUE(m.is_object());
  EXPECT_EQ(m.at("threads"), std::stoi(threads));
  EXPECT_EQ(m.at("isa"), j.at("isa").at("selected"));
  EXPECT_GT(m.at("seconds").get<double>(), 0);
  for (const char* figure : {"bandwidth_gbs", "f32_gflops", "int8_gops"})
    for (const char* threads : {"1_thread", "all_threads"})
      EXPECT_GT(m.at(figure).at(threads).get<double>(), 0) << figure << " " << threads;
  // No single core streams more than ~1 TB/s (that is a whole HBM socket), retires more
  // than 2 x 512-bit FMAs per cycle at <= 6 GHz (384 GFLOP/s), or more than one AMX tile
  // multiply per 16 cycles (2048 int8 ops/cycle, ~12 TOP/s).
  EXPECT_LT(m.at("bandwidth_gbs").at("1_thread").get<double>(), 1000);
  EXPECT_LT(m.at("f32_gflops").at("1_thread").get<double>(), 384);
  EXPECT_LT(m.at("int8_gops").at("1_thread").get<double>(), 12288);
}

TEST(HwinfoCli, HumanOutputNamesEverySection) {
  sparq::test::CliResult r = run_sparq({"hwinfo", "--no-measure"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* section : {"CPU", "Caches", "ISA features", "Kernels", "NUMA", "selected ISA"})
    EXPECT_NE(r.out.find(section), std::string::npos) << section;
  EXPECT_NE(r.out.find(kernels::cpu_info().model_name), std::string::npos);
}

TEST(HwinfoCli, BogusSparqIsaIsUsageErrorNamingValidValues) {
  ScopedEnv env{{"SPARQ_ISA", "bogus"}};
  sparq::test::CliResult r = run_sparq({"hwinfo", "--no-measure"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bogus"), std::string::npos) << r.err;
  for (const char* name : {"ref", "avx2", "avx512vnni", "amx", "neon-dotprod", "neon-i8mm"})
    EXPECT_NE(r.err.find(name), std::string::npos) << name;
}

TEST(HwinfoCli, SparqIsaSelectsASupportedLevel) {
  ScopedEnv env{{"SPARQ_ISA", "ref"}};
  json j = run_json({"hwinfo", "--json", "--no-measure"});
  EXPECT_EQ(j.at("isa").at("selected"), "ref");
  EXPECT_EQ(j.at("isa").at("source"), "SPARQ_ISA");
}

TEST(HwinfoCli, SparqIsaForAnotherArchitectureIsUnsupported) {
#if defined(__x86_64__)
  ScopedEnv env{{"SPARQ_ISA", "neon"}};
#else
  ScopedEnv env{{"SPARQ_ISA", "avx2"}};
#endif
  sparq::test::CliResult r = run_sparq({"hwinfo", "--no-measure"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("needs"), std::string::npos) << r.err;
}

TEST(HwinfoCli, ZeroThreadsIsUsageError) {
  EXPECT_EQ(run_sparq({"hwinfo", "--threads", "0"}).exit_code, 1);
}

}  // namespace
}  // namespace sparq::tools
