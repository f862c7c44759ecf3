// The hardware catalog: devices with their price, power, memory and peak figures, each
// number carrying where it comes from. Shipped as runtime/plan/catalog.json (installed as
// share/sparq/catalog.json); users give their own (JSON or YAML, same shape) with --catalog.
//
// {"efficiency": {"gpu": {"compute", "bandwidth", "per_forward_ms", "source", "as_of"}, "npu": {...}},
//  "devices": [{"name", "kind": "cpu" | "gpu" | "npu", "description", "source", "as_of",
//               "price_usd", "power_w", "memory_gb", "memory_bandwidth_gbs", "int8_tops",
//               "fp16_tflops" (used when int8_tops is absent), "cloud_usd_per_hour",
//               "sources": {"<field>": "<source of that one number>"}}]}
// `source`/`as_of` of an entry cover all its numbers unless `sources` names another.
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
  double price_usd = 0;
  double power_w = 0;
  double memory_bytes = 0;
  double bandwidth_gbs = 0;
  double int8_tops = 0;          // dense int8 (or fp16 when no int8 figure is known)
  double cloud_usd_per_hour = 0;  // 0 = no cloud offer in the catalog

  std::string source_of(const std::string& field) const;
};

// The share of a catalog peak a real runtime reaches on an accelerator, applied when
// there is no measurement from that device.
struct Efficiency {
  double compute = 0;
  double bandwidth = 0;
  // Fixed time every forward pass pays whatever its size (kernel launches, host<->device
  // copies, synchronisation): what keeps a tiny model from running at the roofline.
  double per_forward_ms = 0;
  std::string source;
};

struct Catalog {
  std::string file;
  std::vector<Device> devices;
  Efficiency gpu;
  Efficiency npu;
};

Result<Catalog> load_catalog(const std::string& path);

// Where the shipped catalog (runtime/plan/catalog.json) is installed: found relative to the
// running executable or in the configured install prefix; the error names every path tried.
Result<std::string> default_catalog_path();

}  // namespace sparq::runtime::planner
