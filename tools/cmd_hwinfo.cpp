// sparq hwinfo: what this machine is, which kernels sparq will use on it, and (unless
// --no-measure) its measured memory bandwidth and peak f32 / int8 throughput.
#include <fmt/core.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "kernels/isa.h"
#include "runtime/plan/hardware_measurement.h"
#include "tools/command.h"

namespace sparq::tools {
namespace {

struct HwinfoOptions {
  bool json = false, quiet = false;
  bool no_measure = false;
  int threads = 0;
  uint64_t bandwidth_mib = 0;
};

std::string bytes_text(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return v == static_cast<uint64_t>(v) ? fmt::format("{} {}", static_cast<uint64_t>(v), units[u])
                                       : fmt::format("{:.1f} {}", v, units[u]);
}

std::string names_or_none(const std::vector<std::string>& names) {
  return names.empty() ? "(none)" : fmt::format("{}", fmt::join(names, " "));
}

void print_report(const runtime::HardwareReport& r) {
  const kernels::CpuInfo& cpu = r.cpu;
  auto row = [](const std::string& label, const std::string& value) {
    fmt::print("  {:<18}{}\n", label, value);
  };
  fmt::print("CPU\n");
  row("model", cpu.model_name);
  row("vendor", cpu.vendor);
  row("arch", cpu.arch);
  row("topology", fmt::format("{} socket{}, {} cores, {} threads", cpu.sockets,
                              cpu.sockets == 1 ? "" : "s", cpu.cores, cpu.threads));

  fmt::print("\nCaches\n");
  for (const auto& c : cpu.caches)
    row(fmt::format("L{} {}", c.level, c.type),
        fmt::format("{:<10}shared by {} CPU{}", bytes_text(c.size_bytes), c.shared_by_cpus,
                    c.shared_by_cpus == 1 ? "" : "s"));

  std::vector<std::string> present = kernels::feature_names(cpu.features);
  std::vector<std::string> disabled = runtime::os_disabled_features(cpu);
  std::vector<std::string> absent;
  for (const std::string& name : kernels::arch_feature_names())
    if (std::find(present.begin(), present.end(), name) == present.end() &&
        std::find(disabled.begin(), disabled.end(), name) == disabled.end())
      absent.push_back(name);
  fmt::print("\nISA features\n");
  row("present", names_or_none(present));
  row("absent", names_or_none(absent));
  row("disabled by OS", names_or_none(disabled));

  std::vector<std::string> available;
  for (kernels::Isa isa : r.available_isas) available.emplace_back(kernels::isa_name(isa));
  fmt::print("\nKernels\n");
  row("selected ISA", fmt::format("{} ({})", kernels::isa_name(r.selected_isa),
                                  r.isa_from_env ? "set by SPARQ_ISA"
                                                 : "best this CPU/OS supports; SPARQ_ISA overrides"));
  row("available", names_or_none(available));

  fmt::print("\nNUMA\n");
  for (const auto& n : r.numa)
    row(fmt::format("node {}", n.node), fmt::format("{} memory ({} free), {} CPUs ({})",
                                                    bytes_text(n.memory_bytes),
                                                    bytes_text(n.free_bytes), n.cpus, n.cpu_list));
  row("placement", r.numa.size() > 1 ? fmt::format("{} nodes: one `sparq serve --numa-node N` per node "
                                                   "(docs/serving.md)", r.numa.size())
                                     : "one node: nothing to bind");

  if (!r.measured) {
    fmt::print("\nMeasured: skipped (--no-measure)\n");
    return;
  }
  const runtime::MeasuredPeaks& m = *r.measured;
  fmt::print("\nMeasured ({} peak loops, {:.1f} s)\n", kernels::isa_name(m.isa), m.seconds);
  std::string all = fmt::format("{} thread{}", m.threads, m.threads == 1 ? "" : "s");
  fmt::print("  {:<36}{:>12}{:>12}\n", "", "1 thread", all);
  auto measured_row = [](const std::string& label, const runtime::ThreadScaling& s,
                         const char* unit) {
    fmt::print("  {:<36}{:>12.1f}{:>12.1f}  {}\n", label, s.one_thread, s.all_threads, unit);
  };
  measured_row(fmt::format("memory bandwidth (triad, 3 x {})", bytes_text(m.bandwidth_array_bytes)),
               m.bandwidth_gbs, "GB/s");
  measured_row("f32 FMA peak", m.f32_gflops, "GFLOP/s");
  measured_row("int8 dot peak", m.int8_gops, "GOP/s");
}

}  // namespace

Command add_hwinfo_command(CLI::App& parent) {
  auto options = std::make_shared<HwinfoOptions>();
  Command c;
  c.app = parent.add_subcommand(
      "hwinfo",
      "Describe this CPU (topology, caches, ISA features, NUMA), the kernel ISA sparq selects, "
      "and measure memory bandwidth and peak f32/int8 throughput at 1 and all threads.");
  add_json_flag(c.app, &options->json, "the report (the fingerprint `sparq bench` embeds)");
  c.app->add_flag("--quiet,-q", options->quiet, "No note on stderr while measuring");
  c.app->add_flag("--no-measure", options->no_measure,
                  "Skip the measurements (they take a few seconds)");
  c.app->add_option("--threads,-t", options->threads,
                    "Threads for the all-threads measurements (default: OpenMP's default)")
      ->check(CLI::Range(1, 1 << 16));
  c.app->add_option("--bandwidth-mib", options->bandwidth_mib,
                    "Size of each of the 3 triad arrays in MiB (default: the last-level cache, "
                    "64-256 MiB; smaller measures caches, not memory)")
      ->check(CLI::Range(1, 1 << 20));
  c.run = [options]() -> Status {
    runtime::MeasurementOptions measurement;
    measurement.measure = !options->no_measure;
    measurement.threads = options->threads;
    measurement.bandwidth_array_bytes = options->bandwidth_mib << 20;
    // A bad SPARQ_ISA fails before the slow part.
    if (Result<kernels::Isa> isa = kernels::selected_isa(); !isa) return isa.error();
    if (measurement.measure && !options->quiet)
      fmt::print(stderr, "measuring memory bandwidth and peak throughput (--no-measure skips)...\n");
    Result<runtime::HardwareReport> report = runtime::measure_hardware(measurement);
    if (!report) return report.error();
    if (options->json)
      fmt::print("{}\n", runtime::to_json(*report).dump(2));
    else
      print_report(*report);
    return {};
  };
  return c;
}

}  // namespace sparq::tools
