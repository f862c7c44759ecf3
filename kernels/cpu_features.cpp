// CPU detection: CPUID + XCR0 (+ the Linux AMX permission) on x86-64, HWCAP bits on
// aarch64, topology and caches from sysfs (caches from CPUID on x86-64 virtual machines
// whose sysfs has none). Runs once per process.
#include "kernels/cpu_features.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace sparq::kernels {

std::vector<int> parse_cpu_list(std::string_view text) {
  std::vector<int> cpus;
  std::stringstream ss{std::string(text)};
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part.empty()) continue;
    size_t dash = part.find('-');
    try {
      int lo = std::stoi(part.substr(0, dash));
      int hi = dash == std::string::npos ? lo : std::stoi(part.substr(dash + 1));
      for (int c = lo; c <= hi; ++c) cpus.push_back(c);
    } catch (const std::exception&) {
      return {};
    }
  }
  return cpus;
}

namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// "48K" / "2048K" / "1M" as written in sysfs cache/index*/size.
uint64_t parse_size(const std::string& text) {
  if (text.empty()) return 0;
  uint64_t value = 0;
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') value = value * 10 + (text[i++] - '0');
  char unit = i < text.size() ? text[i] : ' ';
  if (unit == 'K') return value << 10;
  if (unit == 'M') return value << 20;
  if (unit == 'G') return value << 30;
  return value;
}

// The value of the first "key : value" line of /proc/cpuinfo whose key is `key`.
std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string k = line.substr(0, colon);
    while (!k.empty() && (k.back() == ' ' || k.back() == '\t')) k.pop_back();
    if (k != key) continue;
    size_t v = line.find_first_not_of(" \t", colon + 1);
    return v == std::string::npos ? std::string() : line.substr(v);
  }
  return {};
}

void detect_topology(CpuInfo& info) {
  const std::string root = "/sys/devices/system/cpu/";
  std::vector<int> online = parse_cpu_list(read_first_line(root + "online"));
  long onln = sysconf(_SC_NPROCESSORS_ONLN);
  info.threads = !online.empty() ? static_cast<int>(online.size()) : std::max(1L, onln);

  std::set<int> packages;
  std::set<std::pair<int, int>> cores;  // (package, first CPU of the core's sibling list)
  for (int cpu : online) {
    std::string topo = root + "cpu" + std::to_string(cpu) + "/topology/";
    std::string package = read_first_line(topo + "physical_package_id");
    std::string siblings = read_first_line(topo + "core_cpus_list");
    if (siblings.empty()) siblings = read_first_line(topo + "thread_siblings_list");
    std::vector<int> sib = parse_cpu_list(siblings);
    if (package.empty() || sib.empty()) continue;
    int pkg = 0;
    try {
      pkg = std::stoi(package);
    } catch (const std::exception&) {
      continue;
    }
    packages.insert(pkg);
    cores.insert({pkg, *std::min_element(sib.begin(), sib.end())});
  }
  info.sockets = packages.empty() ? 1 : static_cast<int>(packages.size());
  info.cores = cores.empty() ? info.threads : static_cast<int>(cores.size());
}

void detect_caches(CpuInfo& info) {
  for (int index = 0;; ++index) {
    std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::string level = read_first_line(dir + "level");
    if (level.empty()) break;
    CacheLevel c;
    try {
      c.level = std::stoi(level);
    } catch (const std::exception&) {
      continue;
    }
    c.type = read_first_line(dir + "type");
    c.size_bytes = parse_size(read_first_line(dir + "size"));
    c.shared_by_cpus =
        std::max<int>(1, static_cast<int>(parse_cpu_list(read_first_line(dir + "shared_cpu_list")).size()));
    info.caches.push_back(c);
  }
}

#if defined(__x86_64__)

bool bit(unsigned reg, int n) { return (reg >> n) & 1u; }

// The deterministic cache parameters leaf (Intel leaf 4, AMD 0x8000001D: the same layout),
// for VMs that expose no /sys/devices/system/cpu/cpu0/cache (seen on an AMD EPYC guest).
void detect_caches_cpuid(CpuInfo& info) {
  const bool amd = info.vendor == "AuthenticAMD" || info.vendor == "HygonGenuine";
  const unsigned leaf = amd ? 0x8000001Du : 4u;
  const unsigned max_leaf = __get_cpuid_max(leaf & 0x80000000u, nullptr);
  if (max_leaf < leaf) return;
  static constexpr const char* kTypes[] = {"", "Data", "Instruction", "Unified"};
  for (unsigned index = 0; index < 16; ++index) {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    __cpuid_count(leaf, index, eax, ebx, ecx, edx);
    const unsigned type = eax & 0x1f;
    if (type == 0 || type > 3) break;
    CacheLevel c;
    c.level = static_cast<int>((eax >> 5) & 0x7);
    c.type = kTypes[type];
    const uint64_t ways = ((ebx >> 22) & 0x3ff) + 1, partitions = ((ebx >> 12) & 0x3ff) + 1,
                   line = (ebx & 0xfff) + 1, sets = uint64_t(ecx) + 1;
    c.size_bytes = ways * partitions * line * sets;
    // The sharing count is the hardware's, which a guest with fewer vCPUs can exceed.
    c.shared_by_cpus = std::clamp(static_cast<int>((eax >> 14) & 0xfff) + 1, 1, std::max(1, info.threads));
    info.caches.push_back(c);
  }
  if (!info.caches.empty() || !amd || __get_cpuid_max(0x80000000u, nullptr) < 0x80000006u) return;
  // Without topology extensions (some AMD guests hide them), the legacy AMD leaves: L1 data and
  // instruction sizes in KiB (0x80000005 ECX/EDX bits 31:24), L2 in KiB (0x80000006 ECX bits
  // 31:16), L3 in 512 KiB units (EDX bits 31:18). L1 and L2 belong to one core, L3 to all.
  unsigned eax = 0, ebx = 0, l1d = 0, l1i = 0, l2 = 0, l3 = 0;
  __cpuid(0x80000005u, eax, ebx, l1d, l1i);
  __cpuid(0x80000006u, eax, ebx, l2, l3);
  const int per_core = std::max(1, info.threads / std::max(1, info.cores));
  const auto add = [&](int level, const char* type, uint64_t bytes, int shared) {
    if (bytes) info.caches.push_back({level, type, bytes, shared});
  };
  add(1, "Data", uint64_t(l1d >> 24) << 10, per_core);
  add(1, "Instruction", uint64_t(l1i >> 24) << 10, per_core);
  add(2, "Unified", uint64_t(l2 >> 16) << 10, per_core);
  add(3, "Unified", uint64_t((l3 >> 18) & 0x3fff) << 19, std::max(1, info.threads));
}

void detect_x86(CpuInfo& info) {
  info.arch = "x86_64";
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  __cpuid(0, eax, ebx, ecx, edx);
  char vendor[13] = {};
  std::memcpy(vendor + 0, &ebx, 4);
  std::memcpy(vendor + 4, &edx, 4);
  std::memcpy(vendor + 8, &ecx, 4);
  info.vendor = vendor;

  if (unsigned(__get_cpuid_max(0x80000000, nullptr)) >= 0x80000004u) {  // int in clang's cpuid.h
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      __cpuid(0x80000002 + i, eax, ebx, ecx, edx);
      std::memcpy(brand + 16 * i + 0, &eax, 4);
      std::memcpy(brand + 16 * i + 4, &ebx, 4);
      std::memcpy(brand + 16 * i + 8, &ecx, 4);
      std::memcpy(brand + 16 * i + 12, &edx, 4);
    }
    std::string b = brand;
    size_t first = b.find_first_not_of(' ');
    info.model_name = first == std::string::npos ? "" : b.substr(first, b.find_last_not_of(' ') - first + 1);
  }

  CpuFeatures& raw = info.cpu_reports;
  bool osxsave = false;
  if (max_leaf >= 1) {
    __cpuid(1, eax, ebx, ecx, edx);
    raw.sse42 = bit(ecx, 20);
    raw.fma = bit(ecx, 12);
    osxsave = bit(ecx, 27);
    raw.avx = bit(ecx, 28);
    raw.f16c = bit(ecx, 29);
  }
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    unsigned subleaves = eax;
    raw.avx2 = bit(ebx, 5);
    raw.avx512f = bit(ebx, 16);
    raw.avx512dq = bit(ebx, 17);
    raw.avx512bw = bit(ebx, 30);
    raw.avx512vl = bit(ebx, 31);
    raw.avx512vbmi = bit(ecx, 1);
    raw.avx512vbmi2 = bit(ecx, 6);
    raw.avx512vnni = bit(ecx, 11);
    raw.amx_bf16 = bit(edx, 22);
    raw.amx_tile = bit(edx, 24);
    raw.amx_int8 = bit(edx, 25);
    if (subleaves >= 1) {
      __cpuid_count(7, 1, eax, ebx, ecx, edx);
      raw.avx_vnni = bit(eax, 4);
      raw.avx512bf16 = bit(eax, 5);
    }
  }

  // XCR0 says which register state the OS saves on context switch; a feature whose
  // state it does not save faults (or silently corrupts) when used.
  uint64_t xcr0 = 0;
  if (osxsave) {
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  auto enabled = [xcr0](uint64_t mask) { return (xcr0 & mask) == mask; };
  bool ymm_ok = enabled((1u << 1) | (1u << 2));
  bool zmm_ok = ymm_ok && enabled((1u << 5) | (1u << 6) | (1u << 7));
  bool tiles_ok = enabled((1u << 17) | (1u << 18));

  CpuFeatures f;
  f.sse42 = raw.sse42;
  f.avx = raw.avx && ymm_ok;
  f.avx2 = raw.avx2 && ymm_ok;
  f.fma = raw.fma && ymm_ok;
  f.f16c = raw.f16c && ymm_ok;
  f.avx_vnni = raw.avx_vnni && ymm_ok;
  f.avx512f = raw.avx512f && zmm_ok;
  f.avx512bw = raw.avx512bw && zmm_ok;
  f.avx512vl = raw.avx512vl && zmm_ok;
  f.avx512dq = raw.avx512dq && zmm_ok;
  f.avx512vnni = raw.avx512vnni && zmm_ok;
  f.avx512vbmi = raw.avx512vbmi && zmm_ok;
  f.avx512vbmi2 = raw.avx512vbmi2 && zmm_ok;
  f.avx512bf16 = raw.avx512bf16 && zmm_ok;
  if (raw.amx_tile && tiles_ok) {
    // Linux >= 5.16 hands out the 8 KiB XTILEDATA state only to processes that ask.
    constexpr int kArchReqXcompPerm = 0x1023;
    constexpr int kXfeatureXtiledata = 18;
    bool permitted = syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
    f.amx_tile = permitted;
    f.amx_int8 = raw.amx_int8 && permitted;
    f.amx_bf16 = raw.amx_bf16 && permitted;
  }
  info.features = f;
}

#elif defined(__aarch64__)

std::string arm_vendor(unsigned implementer) {
  switch (implementer) {
    case 0x41: return "Arm";
    case 0x42: return "Broadcom";
    case 0x43: return "Cavium";
    case 0x46: return "Fujitsu";
    case 0x48: return "HiSilicon";
    case 0x4e: return "NVIDIA";
    case 0x51: return "Qualcomm";
    case 0x61: return "Apple";
    case 0xc0: return "Ampere";
    default: break;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "implementer 0x%02x", implementer);
  return buf;
}

void detect_aarch64(CpuInfo& info) {
  info.arch = "aarch64";
  unsigned long hwcap = getauxval(AT_HWCAP);
  unsigned long hwcap2 = getauxval(AT_HWCAP2);
  CpuFeatures f;
  f.neon = hwcap & HWCAP_ASIMD;
  f.dotprod = hwcap & HWCAP_ASIMDDP;
  f.sve = hwcap & HWCAP_SVE;
  f.i8mm = hwcap2 & HWCAP2_I8MM;
  f.arm_bf16 = hwcap2 & HWCAP2_BF16;
  info.features = f;
  info.cpu_reports = f;  // HWCAPs already are the OS's view; there is no separate raw view.

  // MIDR_EL1 names the core; the kernel emulates the EL0 read when HWCAP_CPUID is set.
  unsigned implementer = 0, part = 0;
  bool have_midr = false;
  if (hwcap & HWCAP_CPUID) {
    uint64_t midr = 0;
    __asm__ volatile("mrs %0, MIDR_EL1" : "=r"(midr));
    implementer = (midr >> 24) & 0xff;
    part = (midr >> 4) & 0xfff;
    have_midr = true;
  } else {
    try {
      implementer = std::stoul(cpuinfo_field("CPU implementer"), nullptr, 0);
      part = std::stoul(cpuinfo_field("CPU part"), nullptr, 0);
      have_midr = true;
    } catch (const std::exception&) {
    }
  }
  if (have_midr) {
    info.vendor = arm_vendor(implementer);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s part 0x%03x", info.vendor.c_str(), part);
    info.model_name = buf;
  }
}

#endif

CpuInfo detect() {
  CpuInfo info;
#if defined(__x86_64__)
  detect_x86(info);
#elif defined(__aarch64__)
  detect_aarch64(info);
#else
  info.arch = "unknown";
#endif
  // The OS's name first: on virtual machines the CPUID brand string can differ from what the
  // kernel recorded at boot (seen: "Oxide Virtual Turin-like Processor" against "AMD EPYC"),
  // and the OS's is the one lscpu, inventories and recorded results use.
  if (std::string os_name = cpuinfo_field("model name"); !os_name.empty()) info.model_name = os_name;
  if (info.model_name.empty()) info.model_name = "unknown " + info.arch + " CPU";
  if (info.vendor.empty()) info.vendor = "unknown";
  detect_topology(info);
  detect_caches(info);
#if defined(__x86_64__)
  if (info.caches.empty()) detect_caches_cpuid(info);
#endif
  return info;
}

}  // namespace

const CpuInfo& cpu_info() {
  static const CpuInfo info = detect();
  return info;
}

namespace {

struct FeatureName {
  bool CpuFeatures::*member;
  const char* name;
  bool x86;  // false: aarch64
};

constexpr FeatureName kFeatureNames[] = {
    {&CpuFeatures::sse42, "sse4.2", true},       {&CpuFeatures::avx, "avx", true},
    {&CpuFeatures::avx2, "avx2", true},          {&CpuFeatures::fma, "fma", true},
    {&CpuFeatures::f16c, "f16c", true},          {&CpuFeatures::avx_vnni, "avx_vnni", true},
    {&CpuFeatures::avx512f, "avx512f", true},    {&CpuFeatures::avx512bw, "avx512bw", true},
    {&CpuFeatures::avx512vl, "avx512vl", true},  {&CpuFeatures::avx512dq, "avx512dq", true},
    {&CpuFeatures::avx512vnni, "avx512vnni", true},
    {&CpuFeatures::avx512vbmi, "avx512vbmi", true},
    {&CpuFeatures::avx512vbmi2, "avx512vbmi2", true},
    {&CpuFeatures::avx512bf16, "avx512bf16", true},
    {&CpuFeatures::amx_tile, "amx_tile", true},  {&CpuFeatures::amx_int8, "amx_int8", true},
    {&CpuFeatures::amx_bf16, "amx_bf16", true},  {&CpuFeatures::neon, "neon", false},
    {&CpuFeatures::dotprod, "dotprod", false},   {&CpuFeatures::i8mm, "i8mm", false},
    {&CpuFeatures::sve, "sve", false},           {&CpuFeatures::arm_bf16, "bf16", false},
};

}  // namespace

std::vector<std::string> feature_names(const CpuFeatures& f) {
  std::vector<std::string> names;
  for (const auto& entry : kFeatureNames)
    if (f.*entry.member) names.emplace_back(entry.name);
  return names;
}

std::vector<std::string> arch_feature_names() {
#if defined(__x86_64__)
  constexpr bool x86 = true;
#else
  constexpr bool x86 = false;
#endif
  std::vector<std::string> names;
  for (const auto& entry : kFeatureNames)
    if (entry.x86 == x86) names.emplace_back(entry.name);
  return names;
}

}  // namespace sparq::kernels
