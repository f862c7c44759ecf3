// measure_hardware: the detected CPU (kernels/cpu_features.h) + ISA choice + NUMA, and the measured peaks (STREAM-style triad
// bandwidth, f32 FMA and int8 dot throughput of the selected ISA's peak loops).
#include "runtime/plan/hardware_measurement.h"

#include <numa.h>
#include <omp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <new>

#include "kernels/numa_nodes.h"
#include "kernels/peak_loops.h"

namespace sparq::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

constexpr int kRepetitions = 3;               // best-of, as STREAM reports
constexpr double kPeakLoopSeconds = 0.06;     // per repetition
constexpr uint64_t kMinTriadArrayBytes = 64ull << 20;
constexpr uint64_t kMaxTriadArrayBytes = 256ull << 20;  // keeps the measurement within seconds

// Keeps results the compiler would otherwise consider dead.
volatile double g_sink = 0;

// The nodes and their CPUs as sysfs lists them (kernels/numa_nodes.h), with each node's
// memory as libnuma reports it; the whole machine's when the kernel has no NUMA support.
std::vector<NumaNode> numa_nodes() {
  std::vector<NumaNode> nodes;
  const bool numa = numa_available() >= 0;
  for (const kernels::NumaNodeCpus& n : kernels::numa_nodes()) {
    NumaNode node;
    node.node = n.node;
    node.cpus = static_cast<int>(n.cpus.size());
    node.cpu_list = n.cpu_list;
    long long free_bytes = 0;
    const long long size = numa ? numa_node_size64(n.node, &free_bytes) : -1;
    if (size > 0) {
      node.memory_bytes = static_cast<uint64_t>(size);
      node.free_bytes = static_cast<uint64_t>(std::max(0LL, free_bytes));
    } else {
      node.memory_bytes = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
      node.free_bytes = static_cast<uint64_t>(sysconf(_SC_AVPHYS_PAGES)) * sysconf(_SC_PAGESIZE);
    }
    nodes.push_back(node);
  }
  return nodes;
}

// Best-of-kRepetitions rate (ops/s) of `loop` running `iterations` on each of `threads`
// threads at once.
double peak_rate(kernels::PeakLoop loop, uint64_t iterations, int threads) {
  double best = 0;
  for (int rep = 0; rep < kRepetitions; ++rep) {
    double ops = 0, checksum = 0;
    Clock::time_point start = Clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : ops, checksum)
    {
      kernels::PeakRun run = loop(iterations);
      ops += run.ops;
      checksum += run.checksum;
    }
    double seconds = seconds_since(start);
    g_sink = g_sink + checksum;
    best = std::max(best, ops / seconds);
  }
  return best;
}

// Iterations that keep one thread busy for about kPeakLoopSeconds.
uint64_t calibrate(kernels::PeakLoop loop) {
  uint64_t iterations = 1024;
  for (;;) {
    Clock::time_point start = Clock::now();
    g_sink = g_sink + loop(iterations).checksum;
    double seconds = seconds_since(start);
    if (seconds > 0.02) return std::max<uint64_t>(1, iterations * (kPeakLoopSeconds / seconds));
    iterations *= 4;
  }
}

ThreadScaling measure_peak(kernels::PeakLoop loop, int threads) {
  uint64_t iterations = calibrate(loop);
  return {peak_rate(loop, iterations, 1) * 1e-9, peak_rate(loop, iterations, threads) * 1e-9};
}

// Three arrays mapped lazily, so the parallel first touch places each page on the node
// of the thread that will stream it.
class TriadArrays {
 public:
  explicit TriadArrays(uint64_t bytes_each) : bytes_(bytes_each) {
    void* p = mmap(nullptr, 3 * bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    madvise(p, 3 * bytes_, MADV_HUGEPAGE);  // fewer TLB misses; a hint, failure is harmless
    base_ = static_cast<double*>(p);
  }
  ~TriadArrays() { munmap(base_, 3 * bytes_); }
  TriadArrays(const TriadArrays&) = delete;
  TriadArrays& operator=(const TriadArrays&) = delete;

  size_t size() const { return bytes_ / sizeof(double); }
  double* a() { return base_; }
  double* b() { return base_ + size(); }
  double* c() { return base_ + 2 * size(); }

 private:
  uint64_t bytes_;
  double* base_;
};

// The last-level cache of the whole machine, which the triad arrays must dwarf.
uint64_t last_level_cache_bytes(const kernels::CpuInfo& cpu) {
  uint64_t total = 0;
  int top = 0;
  for (const auto& c : cpu.caches) top = std::max(top, c.level);
  for (const auto& c : cpu.caches) {
    if (c.level != top || c.type == "Instruction") continue;
    int instances = std::max(1, (cpu.threads + c.shared_by_cpus - 1) / c.shared_by_cpus);
    total += c.size_bytes * instances;
  }
  return total;
}

// STREAM triad a = b + s*c; counts 2 reads and 1 write of 8 bytes per element, as STREAM
// does (the write-allocate read is not counted). Returns GB/s.
ThreadScaling measure_bandwidth(TriadArrays& arrays, int threads) {
  const long n = static_cast<long>(arrays.size());
  double *a = arrays.a(), *b = arrays.b(), *c = arrays.c();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (long i = 0; i < n; ++i) {
    a[i] = 0.0;
    b[i] = 1.0;
    c[i] = 2.0;
  }
  auto best_rate = [&](int t) {
    double best = 0;
    const double scalar = 3.0;
    for (int rep = 0; rep < kRepetitions; ++rep) {
      Clock::time_point start = Clock::now();
#pragma omp parallel for schedule(static) num_threads(t)
      for (long i = 0; i < n; ++i) a[i] = b[i] + scalar * c[i];
      double seconds = seconds_since(start);
      best = std::max(best, 3.0 * sizeof(double) * n / seconds);
    }
    g_sink = g_sink + a[n / 2];
    return best * 1e-9;
  };
  double one = best_rate(1);
  return {one, best_rate(threads)};
}

uint64_t default_triad_array_bytes(const kernels::CpuInfo& cpu) {
  uint64_t physical = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  return std::clamp(last_level_cache_bytes(cpu), kMinTriadArrayBytes,
                    std::max(kMinTriadArrayBytes / 4, std::min(kMaxTriadArrayBytes, physical / 16)));
}

MeasuredPeaks measure(const kernels::CpuInfo& cpu, kernels::Isa isa, int threads,
                      uint64_t array_bytes) {
  Clock::time_point start = Clock::now();
  MeasuredPeaks m;
  m.isa = isa;
  m.threads = threads;

  m.bandwidth_array_bytes = array_bytes > 0 ? array_bytes : default_triad_array_bytes(cpu);
  {
    TriadArrays arrays(m.bandwidth_array_bytes);
    m.bandwidth_gbs = measure_bandwidth(arrays, threads);
  }
  kernels::PeakLoops loops = kernels::peak_loops_for(isa);
  m.f32_gflops = measure_peak(loops.f32_fma, threads);
  m.int8_gops = measure_peak(loops.int8_dot, threads);
  m.seconds = seconds_since(start);
  return m;
}

nlohmann::json scaling_json(const ThreadScaling& s) {
  return {{"1_thread", s.one_thread}, {"all_threads", s.all_threads}};
}

std::vector<std::string> isa_names(const std::vector<kernels::Isa>& isas) {
  std::vector<std::string> names;
  for (kernels::Isa isa : isas) names.emplace_back(kernels::isa_name(isa));
  return names;
}

}  // namespace

std::vector<std::string> os_disabled_features(const kernels::CpuInfo& cpu) {
  std::vector<std::string> enabled = kernels::feature_names(cpu.features);
  std::vector<std::string> disabled;
  for (const std::string& name : kernels::feature_names(cpu.cpu_reports))
    if (std::find(enabled.begin(), enabled.end(), name) == enabled.end()) disabled.push_back(name);
  return disabled;
}

Result<HardwareReport> measure_hardware(const MeasurementOptions& options) {
  HardwareReport report;
  report.cpu = kernels::cpu_info();
  Result<kernels::Isa> selected = kernels::selected_isa();
  if (!selected) return selected.error();
  report.best_isa = kernels::best_isa(report.cpu.features);
  report.selected_isa = *selected;
  const char* env = std::getenv("SPARQ_ISA");
  report.isa_from_env = env != nullptr && *env != '\0';
  report.available_isas = kernels::supported_isas(report.cpu.features);
  report.numa = numa_nodes();
  if (options.measure) {
    int threads = options.threads > 0 ? options.threads : omp_get_max_threads();
    report.measured = measure(report.cpu, report.selected_isa, threads, options.bandwidth_array_bytes);
  }
  return report;
}

nlohmann::json to_json(const HardwareReport& r) {
  nlohmann::json caches = nlohmann::json::array();
  for (const auto& c : r.cpu.caches)
    caches.push_back({{"level", c.level},
                      {"type", c.type},
                      {"size_bytes", c.size_bytes},
                      {"shared_by_cpus", c.shared_by_cpus}});
  nlohmann::json numa = nlohmann::json::array();
  for (const auto& n : r.numa)
    numa.push_back({{"node", n.node},
                    {"memory_bytes", n.memory_bytes},
                    {"free_bytes", n.free_bytes},
                    {"cpus", n.cpus},
                    {"cpu_list", n.cpu_list}});
  nlohmann::json measured = nullptr;
  if (r.measured) {
    const MeasuredPeaks& m = *r.measured;
    measured = {{"isa", kernels::isa_name(m.isa)},
                {"threads", m.threads},
                {"seconds", m.seconds},
                {"bandwidth_array_bytes", m.bandwidth_array_bytes},
                {"bandwidth_gbs", scaling_json(m.bandwidth_gbs)},
                {"f32_gflops", scaling_json(m.f32_gflops)},
                {"int8_gops", scaling_json(m.int8_gops)}};
  }
  return {{"version", 1},
          {"cpu",
           {{"model", r.cpu.model_name},
            {"arch", r.cpu.arch},
            {"vendor", r.cpu.vendor},
            {"sockets", r.cpu.sockets},
            {"cores", r.cpu.cores},
            {"threads", r.cpu.threads},
            {"caches", caches}}},
          {"features", kernels::feature_names(r.cpu.features)},
          {"os_disabled_features", os_disabled_features(r.cpu)},
          {"isa",
           {{"best", kernels::isa_name(r.best_isa)},
            {"selected", kernels::isa_name(r.selected_isa)},
            {"source", r.isa_from_env ? "SPARQ_ISA" : "best"},
            {"available", isa_names(r.available_isas)}}},
          {"numa", numa},
          {"measured", measured}};
}

}  // namespace sparq::runtime
