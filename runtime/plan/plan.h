// The deployment plan: every catalog device (plus the measured machine itself), on-prem
// and, where the catalog has a rate, in the cloud, sized for the workload's peak and
// costed; ranked by cost per million; and a verdict in plain words. Options outside the
// workload's `deployment` scope or in its `exclude` list are left out.
//
// Capacity: a request is the work of each of the bench's phases (inputs.h: encode; or
// prefill then decode): its tokens in that phase / the phase's rate, in seconds of one unit.
// A unit serves 1 / (the sum of those) requests per second. Throughput and cost are counted
// in the tokens of the last phase: a document's tokens for encoders, the generated tokens
// for decoders. Units = ceil(peak / (rate x utilisation)), or, for a decoder with
// peak_concurrent_users, enough units to hold that many streams, whichever is more.
//
// Rates. The measured machine: the bench's figure (the median of `--repeat` runs), at the
// bench's batch. Catalog CPUs: the measured time per token split into its matmul share,
// scaled by the ratio of the phase's roofline (int8 peak for encode/prefill, bandwidth for
// decode: the catalog's efficiency.cpu.bandwidth share of the datasheet figure against the
// measured one), and the rest, scaled by cores (bounded by bandwidth) - the catalog's
// efficiency.cpu shares. GPUs and NPUs: a roofline of the model's real work per forward
// pass of B sequences - 2 x matmul_parameters ops per token, the matmul weights' dense
// bytes read once per pass (+ each sequence's KV cache when decoding) - at the catalog's
// efficiency shares of the device's peaks, + a fixed time per layer; B is the largest batch
// that the device's memory (weights + B sequences' activations or KV cache) and the phase's
// latency objective allow, up to the runtime's maximum batch. Sparsity speedups are
// CPU-side and not assumed to carry over. A `measured` override always wins. Every figure
// says whether it is measured or estimated and how it was obtained.
//
// Latency: the measured machine and CPUs: each phase's measured p95 of one forward pass
// scaled by the ratio of rates and of tokens per sequence; accelerators: the modelled
// forward pass of B sequences x the bench's p95/p50 spread. Queueing is not modelled: the
// utilisation cap is the margin for it.
// Memory: weights + activations (encoders) or the batch's KV cache at the workload's
// longest context (decoders), + runtime overhead, within the headroom share of device
// memory (unified memory: the share the OS leaves).
//
// Costs: on-prem units are bought (a GPU's card and its host server), except the measured
// machine's `owned_units`; amortised over the years, with maintenance, rack and energy.
// Cloud: on demand, the instances the average load needs (never below the minimum kept up)
// plus the spare units, through the working hours; reserved (where the catalog has a
// rate): the peak units and the spares, all month. The marginal cost beside it is what one
// more million costs on units already paid for: their electricity for the work (on-prem)
// or the instance-hours it takes (cloud).
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

// A user's own measurement of one device, per phase; 0 = not measured.
struct MeasuredPhase {
  double tokens_per_s = 0;
  double requests_per_s = 0;  // documents_per_s: tokens/s through the workload's document length
  double p95_ms = 0;
};
struct Measurement {
  ModelKind kind = ModelKind::encoder;  // whose figures they are
  std::map<Stage, MeasuredPhase> phases;
};
// "h100:tokens_per_s=5200" (also documents_per_s=, p95_ms=; a decoder's prefill_tokens_per_s=,
// decode_tokens_per_s=, ttft_p95_ms=, token_latency_p95_ms=), several keys with commas; or
// "h100:bench=FILE", every figure of a `sparq bench --json` made on that device.
Result<std::pair<std::string, Measurement>> parse_measurement(const std::string& text);

enum class Deployment { owned, on_prem, cloud };
const char* deployment_name(Deployment d);

// What a plan counts, for people and JSON keys.
struct Nouns {
  std::string request;   // "document" | "request"
  std::string tokens;    // "tokens" | "generated tokens": the tokens throughput and cost count
  std::string requests_short, tokens_short;  // for table headers: "docs", "tok" | "req", "gen tok"
  bool quote_per_token;  // the headline cost: per 1M tokens (decoders) or per 1M requests
};
Nouns nouns_for(ModelKind kind);

struct Demand {
  double requests_per_month = 0;  // documents (encoders) or generation requests (decoders)
  double input_tokens = 0;        // per request: the document or the prompt
  double generated_tokens = 0;    // per request (decoders)
  double context_tokens = 0;      // KV cache kept per sequence (decoders)
  double tokens_per_request = 0;  // counted: the last phase's (document or generated tokens)
  double tokens_per_month = 0;    // counted
  double average_tokens_per_s = 0;  // counted, over the working hours
  double peak_tokens_per_s = 0;     // x peak-to-average x growth over the amortisation years
  double peak_concurrent_users = 0;  // decoders: streams at once at peak (given, x growth); 0 = not given
};
Demand workload_demand(const Workload& w, const BenchReport& bench);
// A request's tokens in one stage: its input (read) or its generated tokens.
double tokens_in(const Demand& d, Stage stage);

// One phase of the model's work on one option.
struct PhaseEstimate {
  std::string name;           // as the bench's Phase
  std::string latency_key;
  std::string latency_label;
  Stage stage = Stage::read;
  double tokens_per_s = 0;  // one unit
  double tokens_per_s_min = 0, tokens_per_s_max = 0;  // the bench's range over repeats (measured machine)
  int batch = 1;            // sequences per forward pass
  std::string batch_limit;  // what set `batch`: "bench", "memory", the objective, "runtime maximum"
  bool measured = false;
  std::string basis;        // how the figure was obtained, for people
  double p95_ms = 0;        // one forward pass at the workload's lengths
  double objective_ms = 0;  // the workload's p95 objective for it; 0 = none
  bool latency_ok = true;
};

struct Option {
  std::string name;  // device name, "-cloud" appended for the rented variant
  std::string description;
  DeviceKind kind = DeviceKind::cpu;
  Deployment deployment = Deployment::on_prem;
  std::vector<PhaseEstimate> phases;  // the bench's, in order
  bool throughput_measured = false;   // every phase measured
  double tokens_per_s = 0;            // one unit, counted tokens at the workload's mix of phases
  double requests_per_s = 0;
  bool latency_ok = true;             // every phase meets its objective
  std::string binding_objective;      // the latency objective closest to being missed; empty = none
  double memory_needed_bytes = 0;
  double memory_bytes = 0;
  bool unified_memory = false;
  bool fits = true;
  int streams_per_unit = 0;  // decoders: sequences one unit generates at once
  std::string units_set_by;  // "throughput" or "concurrent users"
  int units_for_peak = 0;    // before redundancy
  int units = 0;             // with redundancy (cloud: instances at peak)
  int owned_units = 0;       // of `units`, already owned (no purchase)
  double billed_units = 0;   // cloud: instances billed on average through the working hours
  double card_price_usd = 0;  // one unit: the device (a GPU's card)
  double host_price_usd = 0;  // one unit: a GPU's host server
  double power_w = 0;        // all units, hosts included
  double usd_per_month = 0;
  double usd_per_million_requests = 0;
  double usd_per_million_tokens = 0;
  double marginal_usd_per_million_requests = 0;  // electricity or instance-hours of the work alone
  double marginal_usd_per_million_tokens = 0;
  double tco_3y = 0;
  double tco_5y = 0;
  std::optional<double> break_even_hours_per_year;  // on-prem vs this device's cloud rate
  bool feasible = false;   // fits, meets the latency objectives, throughput > 0, every unit priced
  std::vector<std::string> warnings;

  std::string throughput_basis() const;  // the phases' bases, named when there are several
  double headline_usd(const Nouns& nouns) const;  // per 1M tokens or requests, as `nouns` quote
};

struct Verdict {
  std::optional<bool> quality_ok;  // the eval report's floor verdict; empty without a floor
  bool cpu_only_ok = false;        // some CPU option meets throughput, latency and memory
  std::string cheapest;            // cheapest feasible option, empty when none
  std::string cheapest_cpu;
  std::vector<std::string> reasons;
  std::vector<std::string> warnings;
  std::string summary;
};

// How close the measured machine came to the roofline of each phase.
struct PhaseEfficiency {
  std::string name;
  bool compute_bound = true;  // int8 peak; else memory bandwidth
  double tokens_per_s = 0;
  double roofline_share = 0;  // achieved work/s / the measured peak
};

struct Plan {
  ModelKind kind = ModelKind::encoder;
  Nouns nouns;
  Demand demand;
  std::vector<Option> options;  // ranked by cost per million (infeasible last)
  Verdict verdict;
  std::vector<PhaseEfficiency> efficiency;  // measured machine, per phase
};

// The measured machine's power at load: this_machine.power_w, or estimated from its threads.
double this_machine_power_w(const Workload& w, const BenchReport& b);

// A plan a purchaser cannot act on: the quality floor missed, or no option feasible
// (`sparq plan` exits 3 on it).
bool plan_misses_floors(const Plan& plan);

// What is left of an option's usable memory (its memory under the headroom rule) after the
// weights, KV cache or activations it needs; negative when it does not fit.
double memory_left_bytes(const Option& o, const CostAssumptions& costs);

Result<Plan> make_plan(const BenchReport& bench, const std::optional<EvalReport>& eval,
                       const Workload& workload, const Catalog& catalog,
                       const std::map<std::string, Measurement>& measured);

nlohmann::json to_json(const Plan& plan, const BenchReport& bench, const Workload& workload);

}  // namespace sparq::runtime::planner
