// The deployment plan: every catalog device (plus the measured machine itself), on-prem
// and, where the catalog has a rate, in the cloud, sized for the workload's peak and
// costed; ranked by cost per million; and a verdict in plain words.
//
// Capacity: a request is the work of each of the bench's phases (inputs.h: encode; or
// prefill then decode): its tokens in that phase / the phase's rate, in seconds of one unit
// running the bench's batch. A unit serves 1 / (the sum of those) requests per second.
// Throughput and cost are counted in the tokens of the last phase: a document's tokens for
// encoders, the generated tokens for decoders.
//
// Rates: the bench's measured figure anchors each phase. Other CPUs scale it by the roofline
// the phase sits on - int8 compute for encode and prefill, memory bandwidth for decode -
// which carries the efficiency sparq reached on the measured CPU over to them. Decode's work
// per token (the weights one step reads, shared by the batch, plus the sequence's KV cache
// up to its mean context) is taken at the workload's lengths, so when they differ from the
// bench's the measured machine's decode rate is scaled too. GPUs and NPUs get catalog peak x
// the catalog's efficiency / work per token (dense ops or bytes; sparsity speedups are
// CPU-side and not assumed to carry over), plus the catalog's fixed cost per forward pass.
// A `measured` override for a device always wins. Each figure says whether it is measured
// and how it was obtained.
//
// Latency: each phase's measured p95 of one forward pass (batch latency, time to first
// token, token latency) scaled by the ratio of rates and of the tokens each sequence brings
// to the pass (the document or prompt; one token when decoding). The time to first token is
// that of the batch's prompts prefilled together, as the bench measures it; queueing is not
// modelled: the utilisation cap is the margin for it.
// Memory: weights + activations (encoders) or the batch's KV cache at the workload's longest
// context (decoders), + runtime overhead, within the headroom share of device memory.
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
  double memory_needed_bytes = 0;
  double memory_bytes = 0;
  bool fits = true;
  int units_for_peak = 0;  // before redundancy
  int units = 0;           // with redundancy (cloud: instances at peak)
  double power_w = 0;      // all units
  double usd_per_month = 0;
  double usd_per_million_requests = 0;
  double usd_per_million_tokens = 0;
  double tco_3y = 0;
  double tco_5y = 0;
  std::optional<double> break_even_hours_per_year;  // on-prem vs this device's cloud rate
  bool feasible = false;   // fits, meets the latency objectives, throughput > 0
  std::vector<std::string> warnings;

  std::string throughput_basis() const;  // the phases' bases, named when there are several
  double headline_usd(const Nouns& nouns) const;  // per 1M tokens or requests, as `nouns` quote
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

Result<Plan> make_plan(const BenchReport& bench, const std::optional<EvalReport>& eval,
                       const Workload& workload, const Catalog& catalog,
                       const std::map<std::string, Measurement>& measured);

nlohmann::json to_json(const Plan& plan, const BenchReport& bench, const Workload& workload);

}  // namespace sparq::runtime::planner
