#include "runtime/plan/catalog.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <vector>

#include "formats/document.h"

namespace sparq::runtime::planner {

using formats::Fields;
using formats::FirstError;
using formats::load_document;
using formats::top_level;

const char* device_kind_name(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::cpu: return "cpu";
    case DeviceKind::gpu: return "gpu";
    case DeviceKind::npu: return "npu";
  }
  return "?";
}

std::string Device::source_of(const std::string& field) const {
  auto it = sources.find(field);
  std::string from = it != sources.end() ? it->second : !source.empty() ? source : "no source given";
  return as_of.empty() ? from : fmt::format("{} ({})", from, as_of);
}

namespace {

std::map<std::string, std::string> load_sources(const Fields& f, FirstError& first) {
  std::map<std::string, std::string> sources;
  if (f.has("source")) sources[""] = first.get(f.text("source"));
  if (f.has("sources")) {
    Fields s = first.get(f.object("sources"));
    for (const auto& [field, _] : s.json().items()) sources[field] = first.get(s.text(field));
  }
  return sources;
}

// A misspelt or retired key (per_forward_ms became per_layer_ms) is an error, not a default.
void known_keys(const Fields& f, std::initializer_list<std::string_view> keys, FirstError& first) {
  if (Status s = f.only_keys(keys); !s && !first.error) first.error = s.error();
}

Efficiency load_efficiency(const Fields& all, const std::string& kind, FirstError& first) {
  Fields f = first.get(all.object(kind));
  known_keys(f, {"compute", "bandwidth", "per_layer_ms", "max_batch", "source", "sources", "as_of"}, first);
  Efficiency e;
  e.compute = first.get(f.number("compute"));
  e.bandwidth = first.get(f.number("bandwidth"));
  e.per_layer_ms = first.get(f.number_in("per_layer_ms", 0, 1000, 0));
  e.max_batch = static_cast<int>(first.get(f.number_in("max_batch", 1, 1e5, 1)));
  e.sources = load_sources(f, first);
  for (double v : {e.compute, e.bandwidth})
    if (!first.error && (v <= 0 || v > 1))
      first.error = f.error("compute/bandwidth", "efficiencies must be in (0, 1]");
  return e;
}

CpuScaling load_cpu_scaling(const Fields& all, FirstError& first) {
  CpuScaling c;
  if (!all.has("cpu")) return c;
  Fields f = first.get(all.object("cpu"));
  known_keys(f, {"bandwidth", "matmul_share_read", "matmul_share_generate", "max_batch", "source", "sources", "as_of"},
             first);
  c.bandwidth = first.get(f.number_in("bandwidth", 0, 1, c.bandwidth));
  if (!first.error && c.bandwidth <= 0) first.error = f.error("bandwidth", "must be in (0, 1]");
  c.matmul_share_read = first.get(f.number_in("matmul_share_read", 0, 1, c.matmul_share_read));
  c.matmul_share_generate = first.get(f.number_in("matmul_share_generate", 0, 1, c.matmul_share_generate));
  c.max_batch = static_cast<int>(first.get(f.number_in("max_batch", 1, 1e5, c.max_batch)));
  c.sources = load_sources(f, first);
  return c;
}

bool flag(const Fields& d, const std::string& key, FirstError& first) {
  if (!d.has(key)) return false;
  const nlohmann::json& v = d.json().at(key);
  if (!v.is_boolean()) {
    if (!first.error) first.error = d.error(key, "must be true or false");
    return false;
  }
  return v.get<bool>();
}

Device load_device(const Fields& d, FirstError& first) {
  known_keys(d, {"name", "kind", "description", "source", "as_of", "sources", "price_usd", "power_w", "memory_gb",
                 "memory_bandwidth_gbs", "int8_tops", "fp16_tflops", "cloud_usd_per_hour", "cloud_reserved_usd_per_hour",
                 "host", "host_price_usd", "cores", "amx", "unified_memory"},
             first);
  Device dev;
  dev.name = first.get(d.text("name"));
  std::string kind = first.get(d.text("kind"));
  if (kind == "gpu") {
    dev.kind = DeviceKind::gpu;
  } else if (kind == "npu") {
    dev.kind = DeviceKind::npu;
  } else if (kind != "cpu" && !first.error) {
    first.error = d.error("kind", fmt::format("must be cpu, gpu or npu, got \"{}\"", kind));
  }
  dev.description = first.get(d.text_or("description", dev.name));
  dev.source = first.get(d.text_or("source", ""));
  dev.as_of = first.get(d.text_or("as_of", ""));
  dev.sources = load_sources(d, first);
  dev.sources.erase("");
  dev.price_usd = first.get(d.number("price_usd"));
  dev.power_w = first.get(d.number("power_w"));
  dev.memory_bytes = first.get(d.number("memory_gb")) * 1e9;
  dev.bandwidth_gbs = first.get(d.number("memory_bandwidth_gbs"));
  dev.int8_tops = d.has("int8_tops") ? first.get(d.number("int8_tops"))
                                     : first.get(d.number("fp16_tflops"));
  dev.cloud_usd_per_hour = first.get(d.number_or("cloud_usd_per_hour", 0));
  dev.cloud_reserved_usd_per_hour = first.get(d.number_or("cloud_reserved_usd_per_hour", 0));
  dev.host = first.get(d.text_or("host", ""));
  dev.host_price_usd = first.get(d.number_or("host_price_usd", -1));
  dev.cores = static_cast<int>(first.get(d.number_or("cores", 0)));
  dev.amx = flag(d, "amx", first);
  dev.unified_memory = flag(d, "unified_memory", first);
  return dev;
}

}  // namespace

// Installed, the catalog is DATADIR/sparq/catalog.json of the prefix; in the build tree,
// build/share/sparq/catalog.json (runtime/CMakeLists.txt copies it there). Looked for next to
// the running executable first, so an installed tree works wherever it was installed or
// moved to, then in the prefix sparq was configured for (a program elsewhere linking libsparq).
Result<std::string> default_catalog_path() {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  std::error_code ec;
  fs::path exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (!ec) {
    candidates.push_back(exe_dir / SPARQ_DATADIR_FROM_BINDIR / "sparq/catalog.json");
    candidates.push_back(exe_dir / "share/sparq/catalog.json");
  }
  candidates.push_back(fs::path(SPARQ_INSTALL_DATADIR) / "sparq/catalog.json");
  std::string tried;
  for (const fs::path& candidate : candidates) {
    fs::path path = candidate.lexically_normal();
    if (fs::is_regular_file(path, ec)) return path.string();
    tried += (tried.empty() ? "" : ", ") + path.string();
  }
  return Error(fmt::format("no hardware catalog found; looked for {}", tried));
}

Result<Catalog> load_catalog(const std::string& path) {
  Result<nlohmann::json> doc = load_document(path);
  if (!doc) return doc.error();
  Result<Fields> top = top_level(*doc, path);
  if (!top) return top.error();
  FirstError first;
  Catalog catalog;
  catalog.file = path;
  known_keys(*top, {"about", "efficiency", "host_servers", "devices"}, first);
  Fields efficiency = first.get(top->object("efficiency"));
  known_keys(efficiency, {"gpu", "npu", "cpu"}, first);
  catalog.gpu = load_efficiency(efficiency, "gpu", first);
  catalog.npu = load_efficiency(efficiency, "npu", first);
  catalog.cpu = load_cpu_scaling(efficiency, first);
  std::map<std::string, HostServer> hosts;
  if (top->has("host_servers")) {
    Fields all = first.get(top->object("host_servers"));
    for (const auto& [name, _] : all.json().items()) {
      Fields h = first.get(all.object(name));
      known_keys(h, {"price_usd", "power_w", "source", "sources", "as_of"}, first);
      hosts[name] = {first.get(h.number("price_usd")), first.get(h.number("power_w")), load_sources(h, first)};
    }
  }
  if (!top->has("devices") || !top->json().at("devices").is_array())
    return top->error("devices", "missing (an array of devices is required)");
  const nlohmann::json& devices = top->json().at("devices");
  std::set<std::string> names;
  for (size_t i = 0; i < devices.size() && !first.error; ++i) {
    if (!devices[i].is_object()) return top->error(fmt::format("devices[{}]", i), "must be an object");
    Fields d(devices[i], path, fmt::format("devices[{}]", i));
    Device dev = load_device(d, first);
    if (!first.error && !names.insert(dev.name).second)
      first.error = d.error("name", fmt::format("\"{}\" appears twice", dev.name));
    if (!dev.host.empty()) {
      auto host = hosts.find(dev.host);
      if (host == hosts.end() && !first.error) {
        first.error = d.error("host", fmt::format("no host_servers entry \"{}\"", dev.host));
      } else if (host != hosts.end()) {
        // The class's figures and sources, unless the device prices its own host.
        const std::map<std::string, std::string>& from = host->second.sources;
        auto source = [&](const std::string& field) {
          auto it = from.find(field);
          return it != from.end() ? it->second : from.count("") ? from.at("") : "";
        };
        if (dev.host_price_usd < 0) {
          dev.host_price_usd = host->second.price_usd;
          dev.sources["host_price_usd"] = source("price_usd");
        }
        dev.host_power_w = host->second.power_w;
        dev.sources["host_power_w"] = source("power_w");
      }
    }
    dev.host_price_usd = std::max(0.0, dev.host_price_usd);
    catalog.devices.push_back(std::move(dev));
  }
  if (first.error) return *first.error;
  return catalog;
}

}  // namespace sparq::runtime::planner
