// The deployment plan: every catalog device (plus the measured machine itself), on-prem
// and, where the catalog has a rate, in the cloud, sized for the workload's peak and
// costed; ranked by cost per million; and a verdict in plain words.
//
// Throughput: the bench's measured figure anchors everything. Other CPUs scale it by the
// roofline the model sits on - int8 compute for encoders (and prefill), memory bandwidth for
// decoders - which carries the efficiency sparq reached on the measured CPU over to them.
// GPUs and NPUs get catalog peak x the catalog's efficiency factor / work per token (dense
// ops or weight bytes; sparsity speedups are CPU-side and not assumed to carry over). A
// `measured` override for a device always wins. Each figure says whether it is measured.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "formats/error.h"
#include "runtime/plan/catalog.h"
#include "runtime/plan/inputs.h"

namespace sparq::runtime::planner {

inline constexpr const char* kThisMachine = "this-machine";

// A user's own measurement of one device: `--measured NAME:tokens_per_s=...`.
struct Measurement {
  double tokens_per_s = 0;
  double documents_per_s = 0;
  double p95_ms = 0;
};
// "h100:tokens_per_s=5200" (also documents_per_s=, p95_ms=); several keys with commas.
Result<std::pair<std::string, Measurement>> parse_measurement(const std::string& text);

enum class Deployment { owned, on_prem, cloud };
const char* deployment_name(Deployment d);

struct Demand {
  double documents_per_month = 0;
  double tokens_per_month = 0;
  double tokens_per_document = 0;
  double average_tokens_per_s = 0;  // over the working hours
  double peak_tokens_per_s = 0;     // x peak-to-average x growth over the amortisation years
};
Demand workload_demand(const Workload& w, const BenchReport& bench);

struct Option {
  std::string name;  // device name, "-cloud" appended for the rented variant
  std::string description;
  DeviceKind kind = DeviceKind::cpu;
  Deployment deployment = Deployment::on_prem;
  bool throughput_measured = false;
  std::string throughput_basis;  // how the figure was obtained, for people
  double tokens_per_s = 0;       // one unit
  double documents_per_s = 0;
  double p95_ms = 0;
  bool latency_ok = true;
  double memory_needed_bytes = 0;
  double memory_bytes = 0;
  bool fits = true;
  int units_for_peak = 0;  // before redundancy
  int units = 0;           // with redundancy (cloud: instances at peak)
  double power_w = 0;      // all units
  double usd_per_month = 0;
  double usd_per_million_documents = 0;
  double usd_per_million_tokens = 0;
  double tco_3y = 0;
  double tco_5y = 0;
  std::optional<double> break_even_hours_per_year;  // on-prem vs this device's cloud rate
  bool feasible = false;   // fits, meets the latency objective, throughput > 0
  std::vector<std::string> warnings;
};

struct Verdict {
  std::optional<bool> quality_ok;  // from the eval report, when given
  bool cpu_only_ok = false;        // some CPU option meets throughput, latency and memory
  std::string cheapest;            // cheapest feasible option, empty when none
  std::string cheapest_cpu;
  std::vector<std::string> reasons;
  std::vector<std::string> warnings;
  std::string summary;
};

struct Plan {
  Demand demand;
  std::vector<Option> options;  // ranked by cost per million (infeasible last)
  Verdict verdict;
  double compute_efficiency = 0;    // measured CPU: achieved / measured int8 peak
  double bandwidth_efficiency = 0;  // measured CPU: achieved weight bytes/s / measured bandwidth
};

Result<Plan> make_plan(const BenchReport& bench, const std::optional<EvalReport>& eval,
                       const Workload& workload, const Catalog& catalog,
                       const std::map<std::string, Measurement>& measured);

nlohmann::json to_json(const Plan& plan, const BenchReport& bench, const Workload& workload);

}  // namespace sparq::runtime::planner
