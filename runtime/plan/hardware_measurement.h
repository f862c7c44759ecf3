// The hardware report behind `sparq hwinfo` and the fingerprint `sparq bench --json`
// embeds: what the CPU is and has (detected: kernels/cpu_features.h), which ISA level the
// process uses and why, NUMA memory, and optionally what this file adds by measurement:
// three figures, each at 1 thread and at all threads.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "formats/error.h"
#include "kernels/cpu_features.h"
#include "kernels/isa.h"

namespace sparq::runtime {

struct MeasurementOptions {
  bool measure = true;
  int threads = 0;  // "all threads" for the measurements; 0 = OpenMP's default
  // Size of each of the three triad arrays; 0 = at least the last-level cache, 64-256 MiB.
  uint64_t bandwidth_array_bytes = 0;
};

struct NumaNode {
  int node = 0;
  uint64_t memory_bytes = 0;
  uint64_t free_bytes = 0;
  int cpus = 0;
  std::string cpu_list;  // sysfs's "0-15,32-47"
};

struct ThreadScaling {
  double one_thread = 0;
  double all_threads = 0;
};

struct MeasuredPeaks {
  kernels::Isa isa = kernels::Isa::ref;  // the level whose peak loops ran
  int threads = 1;                       // what "all threads" means
  ThreadScaling bandwidth_gbs;  // STREAM triad a = b + s*c on doubles; 24 bytes per element
  ThreadScaling f32_gflops;     // f32 multiply-adds, 2 flops each
  ThreadScaling int8_gops;      // int8 multiply-adds, 2 ops each
  uint64_t bandwidth_array_bytes = 0;  // size of each of the three triad arrays
  double seconds = 0;                  // wall time of all the measurements
};

struct HardwareReport {
  kernels::CpuInfo cpu;
  kernels::Isa best_isa = kernels::Isa::ref;
  kernels::Isa selected_isa = kernels::Isa::ref;
  bool isa_from_env = false;  // SPARQ_ISA chose selected_isa (else it is best_isa)
  std::vector<kernels::Isa> available_isas;
  std::vector<NumaNode> numa;
  std::optional<MeasuredPeaks> measured;
};

// Fails only when SPARQ_ISA is invalid or names a level this CPU/OS cannot run. With
// measurement on, takes a few seconds (about 1 s per measured figure pair).
Result<HardwareReport> measure_hardware(const MeasurementOptions& options);

// Stable JSON form (bump "version" on any incompatible change):
// {"version": 1,
//  "cpu": {"model", "arch", "vendor", "sockets", "cores", "threads",
//          "caches": [{"level", "type", "size_bytes", "shared_by_cpus"}]},
//  "features": [names usable by this process, see kernels::feature_names],
//  "os_disabled_features": [names the CPU reports but the OS does not enable],
//  "isa": {"best", "selected", "source": "SPARQ_ISA" | "best", "available": [names]},
//  "numa": [{"node", "memory_bytes", "free_bytes", "cpus", "cpu_list"}],
//  "measured": null | {"isa", "threads", "seconds", "bandwidth_array_bytes",
//               "bandwidth_gbs": {"1_thread", "all_threads"},
//               "f32_gflops": {"1_thread", "all_threads"},
//               "int8_gops": {"1_thread", "all_threads"}}}
nlohmann::json to_json(const HardwareReport& report);

// Features the CPU reports but the OS leaves disabled (x86 XCR0 / AMX permission).
std::vector<std::string> os_disabled_features(const kernels::CpuInfo& cpu);

}  // namespace sparq::runtime
