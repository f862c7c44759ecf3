// The hardware catalog: devices with their price, power, memory and peak figures, each
// number carrying where it comes from. Shipped as runtime/plan/catalog.json (installed as
// share/sparq/catalog.json); users give their own (JSON or YAML, same shape) with --catalog.
//
// {"efficiency": {"gpu": {"compute", "bandwidth", "per_layer_ms", "max_batch"}, "npu": {...},
//                 "cpu": {"bandwidth", "matmul_share_read", "matmul_share_generate", "max_batch"}},
//  "host_servers": {"<class>": {"price_usd", "power_w"}},
//  "devices": [{"name", "kind": "cpu" | "gpu" | "npu", "description", "as_of",
//               "price_usd", "power_w", "memory_gb", "memory_bandwidth_gbs", "int8_tops",
//               "fp16_tflops" (used when int8_tops is absent), "cloud_usd_per_hour",
//               "cloud_reserved_usd_per_hour", "host" (a host_servers class: GPUs need a
//               server around the card), "host_price_usd" (this card's host, where the
//               guide prices card + server), "cores", "amx" (CPUs), "unified_memory"
//               (memory shared with the OS), "sources": {"<field>": "<where it comes from>"}}]}
// Every entry may carry `source` (for all its numbers) and `sources` (per number); the
// shipped catalog cites each number: "guide §N" (shared/reference/hardware-economics.md) or
// "sparq assumption: why".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "formats/error.h"

namespace sparq::runtime::planner {

enum class DeviceKind { cpu, gpu, npu };
const char* device_kind_name(DeviceKind kind);

struct Device {
  std::string name;
  DeviceKind kind = DeviceKind::cpu;
  std::string description;
  std::string source;
  std::string as_of;
  std::map<std::string, std::string> sources;  // per-number sources that differ from `source`
  double price_usd = 0;  // the device: a GPU's card, a CPU's or NPU's whole machine
  double power_w = 0;
  // The server a GPU card needs (0 for CPUs and NPUs, whose price is the machine's).
  std::string host;
  double host_price_usd = 0;
  double host_power_w = 0;
  int cores = 0;              // CPUs; 0 = not given
  bool amx = false;           // CPUs: int8_tops counts AMX tiles
  bool unified_memory = false;  // memory_bytes is shared with the OS and applications
  double memory_bytes = 0;
  double bandwidth_gbs = 0;
  double int8_tops = 0;          // dense int8 (or fp16 when no int8 figure is known)
  double cloud_usd_per_hour = 0;  // on demand; 0 = no cloud offer in the catalog
  double cloud_reserved_usd_per_hour = 0;  // 0 = no reserved rate in the catalog

  std::string source_of(const std::string& field) const;
};

struct HostServer {
  double price_usd = 0;
  double power_w = 0;
  std::map<std::string, std::string> sources;
};

// The share of a catalog peak a real runtime reaches on an accelerator, applied when
// there is no measurement from that device.
struct Efficiency {
  double compute = 0;
  double bandwidth = 0;
  // Fixed time every forward pass pays per layer whatever the batch (kernel launches,
  // synchronisation): what keeps a small batch or a tiny model from the roofline.
  double per_layer_ms = 0;
  int max_batch = 1;  // sequences a serving runtime puts in one forward pass at most
  std::map<std::string, std::string> sources;
};

// How a catalog CPU's time is scaled from the measured one: this share of a pass by the
// ratio of the phase's roofline (int8 peak when reading, bandwidth when generating), the
// rest by cores and bandwidth. A catalog CPU's bandwidth is its datasheet figure and the
// measured machine's a measured one: `bandwidth` is the share of the datasheet figure that
// enters the ratio.
struct CpuScaling {
  double bandwidth = 1;
  double matmul_share_read = 0.5;
  double matmul_share_generate = 0.8;
  int max_batch = 64;  // decoders: streams one CPU unit decodes together at most
  std::map<std::string, std::string> sources;
};

struct Catalog {
  std::string file;
  std::vector<Device> devices;
  Efficiency gpu;
  Efficiency npu;
  CpuScaling cpu;
};

Result<Catalog> load_catalog(const std::string& path);

// Where the shipped catalog (runtime/plan/catalog.json) is installed: found relative to the
// running executable or in the configured install prefix; the error names every path tried.
Result<std::string> default_catalog_path();

}  // namespace sparq::runtime::planner
