// What the planner reads about the model and the job: the `sparq bench --json` and
// `sparq eval --json` reports of the user's model on the user's CPU, and the workload with
// its cost assumptions. Shapes (version 1; fixtures in tests/runtime/fixtures/planner/):
//
// bench: {"version": 1,
//         "model": {"name", "bytes" (weights as stored), "parameters" (dense count, for
//                   ops per token = 2 x parameters), "kind": "encoder" | "decoder",
//                   "format" (free text, e.g. "q8, 80 % sparse")},
//         "threads", "batch", "seq_len", "avg_tokens_per_document",
//         "documents_per_s" and/or "tokens_per_s" (whole-machine, at `threads`),
//         "latency_ms": {"p50", "p95", "p99"} (per request of `batch` documents),
//         "activation_bytes" (optional: peak activations / KV cache at this batch),
//         "hwinfo": the `sparq hwinfo --json` report, with "measured" figures}
// eval:  {"version": 1, "model", "dataset", "examples", "accuracy", "macro_f1",
//         "floor": null | {"metric", "value", "measured", "passed"}}
// workload (YAML or JSON): see models/example-workload.yaml for every field and default.
#pragma once

#include <optional>
#include <string>

#include "formats/error.h"
#include "runtime/plan/economics.h"

namespace sparq::runtime::planner {

enum class ModelKind { encoder, decoder };

struct BenchReport {
  std::string file;
  std::string model_name;
  std::string model_format;
  ModelKind kind = ModelKind::encoder;
  double model_bytes = 0;
  double parameters = 0;
  double activation_bytes = 0;
  int threads = 1;
  double batch = 1;
  double seq_len = 0;
  double avg_tokens_per_document = 0;
  double documents_per_s = 0;
  double tokens_per_s = 0;
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;
  // From hwinfo: what the measured machine is and its measured peaks at all threads.
  std::string cpu_model;
  int cpu_threads = 0;
  double memory_bytes = 0;
  double bandwidth_gbs = 0;
  double int8_gops = 0;
};

struct EvalReport {
  std::string file;
  double accuracy = 0;
  double macro_f1 = 0;
  std::string floor_metric;  // empty: the eval set no floor
  double floor_value = 0;
  double floor_measured = -1;  // the floor metric's value; -1: not given (older reports)
  bool floor_passed = false;
};

struct CostAssumptions {
  EnergyPrice energy;                  // $/kWh and PUE
  double years = 3;                    // amortisation; the 5-year view is reported too
  double utilisation = 0.7;            // share of capacity planned to be used at peak
  double maintenance_usd_per_year = 500;  // per on-prem unit
  double rack_usd_per_year = 0;        // space/rack per on-prem unit
  double egress_gb_per_month = 0;      // cloud options only
  double egress_usd_per_gb = 0.09;
  double memory_headroom = 0.65;       // model + KV + OS within this share of device memory
  double runtime_overhead = 0.2;       // on top of weights + activations
  double cloud_min_instances = 1;      // kept running through the working hours
};

// The machine the bench ran on, as a deployment option of its own (usually already owned).
struct OwnedMachine {
  double price_usd = 0;
  double power_w = 0;
  bool power_estimated = false;
  double cloud_usd_per_hour = 0;
};

struct Workload {
  std::string file;
  std::string name;
  double documents_per_day = 0;
  double tokens_per_month = 0;
  double avg_tokens_per_document = 0;  // 0 = take the bench's
  double hours_per_day = 24;
  double peak_to_average = 1;
  double latency_slo_p95_ms = 0;       // 0 = no latency objective
  double growth_per_year = 0;
  int redundancy = 0;                  // spare units: 1 = N+1
  CostAssumptions costs;
  OwnedMachine this_machine;
};

Result<BenchReport> load_bench(const std::string& path);
Result<EvalReport> load_eval(const std::string& path);
Result<Workload> load_workload(const std::string& path);

}  // namespace sparq::runtime::planner
