// What the CPU this process runs on is and has, detected once (what it achieves is measured
// elsewhere: runtime/plan/hardware_measurement.h). Features count only
// when the CPU has them AND the OS enables them (XCR0 state for AVX/AVX-512/AMX, the Linux
// XTILEDATA permission for AMX, HWCAP bits on Arm). Kernel configs are chosen from this;
// operators never test CPU flags themselves.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sparq::kernels {

struct CpuFeatures {
  // x86-64
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avx_vnni = false;
  // vpermb/vpmultishiftqb and vpexpandb (bitmap kernels; no ISA level requires them)
  bool avx512vbmi = false, avx512vbmi2 = false;
  bool amx_tile = false, amx_int8 = false, amx_bf16 = false;
  // aarch64
  bool neon = false, dotprod = false, i8mm = false, sve = false, arm_bf16 = false;
};

struct CacheLevel {
  int level = 0;
  std::string type;        // "Data", "Instruction", "Unified"
  uint64_t size_bytes = 0;
  int shared_by_cpus = 0;  // logical CPUs sharing one instance
};

struct CpuInfo {
  std::string arch;        // "x86_64" or "aarch64"
  std::string vendor;      // "AuthenticAMD", "GenuineIntel", Arm implementer
  std::string model_name;
  int sockets = 1;
  int cores = 1;           // physical cores, all sockets
  int threads = 1;         // logical CPUs online
  std::vector<CacheLevel> caches;
  CpuFeatures features;
  // x86: what the CPU reports before the OS check, to tell "absent" from "disabled".
  CpuFeatures cpu_reports;
};

// Detected on first call (thread-safe), then cached for the life of the process.
const CpuInfo& cpu_info();

// Feature names that are present, in a fixed order: "avx2", "fma", "avx512f", ...
std::vector<std::string> feature_names(const CpuFeatures& f);

// Every feature name this build's architecture can report, in feature_names() order, so
// callers can list what is absent.
std::vector<std::string> arch_feature_names();

// A sysfs CPU (or node) list such as "0-3,8,10-11", expanded; empty when malformed.
std::vector<int> parse_cpu_list(std::string_view text);

}  // namespace sparq::kernels
