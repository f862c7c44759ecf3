#include "runtime/plan/catalog.h"

#include <fmt/core.h>

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
  return fmt::format("{} ({})", it == sources.end() ? source : it->second, as_of);
}

namespace {

Efficiency load_efficiency(const Fields& all, const std::string& kind, FirstError& first) {
  Fields f = first.get(all.object(kind));
  Efficiency e;
  e.compute = first.get(f.number("compute"));
  e.bandwidth = first.get(f.number("bandwidth"));
  e.per_forward_ms = first.get(f.number_or("per_forward_ms", 0));
  if (!first.error && !(e.per_forward_ms >= 0))
    first.error = f.error("per_forward_ms", "must be a time in ms, 0 or more");
  e.source = first.get(f.text("source"));
  for (double v : {e.compute, e.bandwidth})
    if (!first.error && (v <= 0 || v > 1))
      first.error = f.error("compute/bandwidth", "efficiencies must be in (0, 1]");
  return e;
}

Device load_device(const Fields& d, FirstError& first) {
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
  dev.source = first.get(d.text("source"));
  dev.as_of = first.get(d.text("as_of"));
  if (d.has("sources")) {
    Fields s = first.get(d.object("sources"));
    for (const auto& [field, _] : s.json().items()) dev.sources[field] = first.get(s.text(field));
  }
  dev.price_usd = first.get(d.number("price_usd"));
  dev.power_w = first.get(d.number("power_w"));
  dev.memory_bytes = first.get(d.number("memory_gb")) * 1e9;
  dev.bandwidth_gbs = first.get(d.number("memory_bandwidth_gbs"));
  dev.int8_tops = d.has("int8_tops") ? first.get(d.number("int8_tops"))
                                     : first.get(d.number("fp16_tflops"));
  dev.cloud_usd_per_hour = first.get(d.number_or("cloud_usd_per_hour", 0));
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
  Fields efficiency = first.get(top->object("efficiency"));
  catalog.gpu = load_efficiency(efficiency, "gpu", first);
  catalog.npu = load_efficiency(efficiency, "npu", first);
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
    catalog.devices.push_back(std::move(dev));
  }
  if (first.error) return *first.error;
  return catalog;
}

}  // namespace sparq::runtime::planner
