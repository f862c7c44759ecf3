#include "runtime/plan/plan.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string_view>

#include "formats/document.h"
#include "runtime/plan/economics.h"

namespace sparq::runtime::planner {

const char* deployment_name(Deployment d) {
  switch (d) {
    case Deployment::owned: return "owned";
    case Deployment::on_prem: return "on-prem";
    case Deployment::cloud: return "cloud";
  }
  return "?";
}

Nouns nouns_for(ModelKind kind) {
  return kind == ModelKind::decoder ? Nouns{"request", "generated tokens", "req", "gen tok", true}
                                    : Nouns{"document", "tokens", "docs", "tok", false};
}

namespace {

// Where each `--measured` key goes.
struct MeasuredKey {
  std::string_view key;
  ModelKind kind;
  Stage stage;
  double MeasuredPhase::*figure;
};
constexpr MeasuredKey kMeasuredKeys[] = {
    {"tokens_per_s", ModelKind::encoder, Stage::read, &MeasuredPhase::tokens_per_s},
    {"documents_per_s", ModelKind::encoder, Stage::read, &MeasuredPhase::requests_per_s},
    {"p95_ms", ModelKind::encoder, Stage::read, &MeasuredPhase::p95_ms},
    {"prefill_tokens_per_s", ModelKind::decoder, Stage::read, &MeasuredPhase::tokens_per_s},
    {"decode_tokens_per_s", ModelKind::decoder, Stage::generate, &MeasuredPhase::tokens_per_s},
    {"ttft_p95_ms", ModelKind::decoder, Stage::read, &MeasuredPhase::p95_ms},
    {"token_latency_p95_ms", ModelKind::decoder, Stage::generate, &MeasuredPhase::p95_ms},
};

}  // namespace

Result<std::pair<std::string, Measurement>> parse_measurement(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error(fmt::format("measurement \"{}\": {} (expected NAME:KEY=X,... with KEY tokens_per_s, "
                             "documents_per_s or p95_ms for an encoder, prefill_tokens_per_s, "
                             "decode_tokens_per_s, ttft_p95_ms or token_latency_p95_ms for a decoder; "
                             "or NAME:bench=FILE)",
                             text, why),
                 ErrorKind::invalid_input)
        .about("measured");
  };
  size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) return bad("no device name");
  Measurement m;
  std::optional<std::string> kind_from;  // the first key that told the kind
  std::string rest = text.substr(colon + 1);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = std::min(rest.find(',', start), rest.size());
    std::string item = rest.substr(start, end - start);
    start = end + 1;
    size_t eq = item.find('=');
    if (eq == std::string::npos) return bad(fmt::format("\"{}\" is not KEY=VALUE", item));
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    auto set_kind = [&](ModelKind kind) -> std::optional<Error> {
      if (kind_from && m.kind != kind)
        return bad(fmt::format("{} is {}'s figure but {} is {}'s", key,
                               kind == ModelKind::decoder ? "a decoder" : "an encoder", *kind_from,
                               m.kind == ModelKind::decoder ? "a decoder" : "an encoder"));
      m.kind = kind;
      kind_from = key;
      return std::nullopt;
    };
    if (key == "bench") {  // `sparq bench --json` run on that device: its figures, all of them
      Result<BenchReport> b = load_bench(value);
      if (!b) return Error(b.error().message(), ErrorKind::invalid_input).about("measured");
      if (std::optional<Error> e = set_kind(b->kind)) return *e;
      for (const Phase& p : b->phases) m.phases[p.stage] = {p.tokens_per_s, 0, p.p95_ms};
      continue;
    }
    const MeasuredKey* known = nullptr;
    for (const MeasuredKey& k : kMeasuredKeys)
      if (k.key == key) known = &k;
    if (!known) return bad(fmt::format("unknown key \"{}\"", key));
    double v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || p != value.data() + value.size() || !std::isfinite(v) || v <= 0)
      return bad(fmt::format("{} must be a number > 0, got \"{}\"", key, value));
    if (std::optional<Error> e = set_kind(known->kind)) return *e;
    m.phases[known->stage].*known->figure = v;
  }
  bool throughput = std::any_of(m.phases.begin(), m.phases.end(), [](const auto& entry) {
    return entry.second.tokens_per_s > 0 || entry.second.requests_per_s > 0;
  });
  if (!throughput) return bad("no throughput given");
  return std::make_pair(text.substr(0, colon), m);
}

double tokens_in(const Demand& d, Stage stage) {
  return stage == Stage::read ? d.input_tokens : d.generated_tokens;
}

Demand workload_demand(const Workload& w, const BenchReport& bench) {
  Demand d;
  d.input_tokens = w.input_tokens > 0 ? w.input_tokens : bench.input_tokens;
  // An encoder reads at most the bench's sequence length; the rest of a longer document is cut.
  if (bench.kind == ModelKind::encoder && bench.seq_len > 0) d.input_tokens = std::min(d.input_tokens, bench.seq_len);
  if (bench.kind == ModelKind::decoder) {
    d.generated_tokens = w.generated_tokens > 0 ? w.generated_tokens : bench.generated_tokens;
    d.context_tokens = w.context_tokens > 0 ? w.context_tokens : d.input_tokens + d.generated_tokens;
  }
  d.tokens_per_request = tokens_in(d, bench.last_phase().stage);
  if (w.requests_per_day > 0) {
    d.requests_per_month = w.requests_per_day * 30;
    d.tokens_per_month = d.requests_per_month * d.tokens_per_request;
  } else {
    d.tokens_per_month = w.tokens_per_month;
    d.requests_per_month = d.tokens_per_month / d.tokens_per_request;
  }
  d.average_tokens_per_s = d.tokens_per_month / (30 * w.hours_per_day * 3600);
  // Capacity bought now must still carry the peak at the end of its amortisation.
  double growth = std::pow(1 + w.growth_per_year, w.costs.years);
  d.peak_tokens_per_s = d.average_tokens_per_s * w.peak_to_average * growth;
  d.peak_concurrent_users = w.peak_concurrent_users * growth;
  return d;
}

std::string Option::throughput_basis() const {
  if (phases.size() == 1) return phases[0].basis;
  std::string all;
  for (const PhaseEstimate& p : phases) all += (all.empty() ? "" : "; ") + p.name + ": " + p.basis;
  return all;
}

double Option::headline_usd(const Nouns& nouns) const {
  return nouns.quote_per_token ? usd_per_million_tokens : usd_per_million_requests;
}

namespace {

// A floor metric for people: `sparq eval`'s "accuracy@0.9" is the accuracy of the 90 % most
// confident documents (the rest go to a person); every other metric by its name.
std::string floor_metric_text(const std::string& metric) {
  constexpr std::string_view kCoverage = "accuracy@";
  if (!metric.starts_with(kCoverage)) return metric;
  double coverage = 0;
  const std::string_view share = std::string_view(metric).substr(kCoverage.size());
  if (std::from_chars(share.data(), share.data() + share.size(), coverage).ec != std::errc()) return metric;
  return fmt::format("accuracy of the {:g} % most confident documents, {}", 100 * coverage, metric);
}

// The roofline a phase sits on: int8 compute for reading a sequence's tokens, memory
// bandwidth for generating one token per sequence.
bool compute_bound(Stage stage) { return stage == Stage::read; }

// Work per token on the bench's runtime: int8 ops of the matmuls for reading; for
// generating, the bytes one token reads - the step's weights shared by the batch, and the
// sequence's KV cache up to `context`.
double work_per_token(const BenchReport& b, Stage stage, double context) {
  return compute_bound(stage) ? 2 * b.matmul_parameters
                              : b.decode_weight_bytes / b.batch + b.kv_bytes_per_token * context;
}

// The mean context a generated token reads: the prompt and half the generation.
double mean_context(Stage stage, double input_tokens, double generated_tokens) {
  return compute_bound(stage) ? 0 : input_tokens + generated_tokens / 2;
}

// Tokens each sequence brings to one forward pass: its whole input, or one new token.
double tokens_per_sequence(Stage stage, double input_tokens) { return compute_bound(stage) ? input_tokens : 1; }

// What the bench measured and what the workload asks of one phase, in work per token.
struct PhaseWork {
  double bench = 0;     // at the bench's lengths
  double workload = 0;  // at the workload's
  double bench_context = 0, workload_context = 0;
};

PhaseWork phase_work(const BenchReport& b, const Demand& d, Stage stage) {
  PhaseWork w;
  w.bench_context = mean_context(stage, b.input_tokens, b.generated_tokens);
  w.workload_context = mean_context(stage, d.input_tokens, d.generated_tokens);
  w.bench = work_per_token(b, stage, w.bench_context);
  w.workload = work_per_token(b, stage, w.workload_context);
  return w;
}

// Said when the workload's context changes a measured rate, so the figure can be traced.
std::string context_note(const PhaseWork& w) {
  if (std::abs(w.bench / w.workload - 1) < 1e-9) return "";
  return fmt::format(", x {:.3g} for the workload's mean context of {:.0f} tokens (bench: {:.0f})",
                     w.bench / w.workload, w.workload_context, w.bench_context);
}

PhaseEstimate estimate_of(const Phase& p, const BenchReport& b) {
  PhaseEstimate e;
  e.name = p.name;
  e.latency_key = p.latency_key;
  e.latency_label = p.latency_label;
  e.stage = p.stage;
  e.batch = static_cast<int>(b.batch);
  e.batch_limit = "bench";
  return e;
}

PhaseEstimate on_this_machine(const Phase& p, const BenchReport& b, const Demand& d) {
  PhaseEstimate e = estimate_of(p, b);
  PhaseWork w = phase_work(b, d, p.stage);
  e.tokens_per_s = p.tokens_per_s * w.bench / w.workload;
  e.tokens_per_s_min = p.tokens_per_s_min * w.bench / w.workload;
  e.tokens_per_s_max = p.tokens_per_s_max * w.bench / w.workload;
  e.measured = true;
  e.basis = fmt::format("sparq bench, {} threads, batch {:g}{}{}", b.threads, b.batch,
                        b.repeats > 1 ? fmt::format(", median of {} runs", b.repeats) : "", context_note(w));
  return e;
}

// A catalog CPU, from the measured one: the phase's matmul share of the time scales by the
// ratio of its roofline (int8 peak or bandwidth), the rest by cores, bounded by bandwidth.
PhaseEstimate on_cpu(const Device& dev, const Phase& p, const BenchReport& b, const Demand& d,
                     const Catalog& catalog) {
  PhaseEstimate e = estimate_of(p, b);
  bool compute = compute_bound(p.stage);
  PhaseWork w = phase_work(b, d, p.stage);
  double bandwidth = dev.bandwidth_gbs * catalog.cpu.bandwidth / b.bandwidth_gbs;  // sustained, as measured
  double roofline = compute ? dev.int8_tops * 1e3 / b.int8_gops : bandwidth;
  double cores = dev.cores > 0 && b.cpu_cores > 0 ? static_cast<double>(dev.cores) / b.cpu_cores : roofline;
  double rest = compute ? std::min(cores, bandwidth) : cores;
  double share = compute ? catalog.cpu.matmul_share_read : catalog.cpu.matmul_share_generate;
  double speedup = 1 / (share / roofline + (1 - share) / rest);
  e.tokens_per_s = p.tokens_per_s * speedup * w.bench / w.workload;
  e.basis = fmt::format("measured x {:.3g}: {:.0f}% of the time by the {} ratio {:.3g}, the rest by {} {:.3g}{}{}",
                        speedup, share * 100, compute ? "int8 peak" : "bandwidth", roofline,
                        compute ? "cores (bounded by bandwidth)" : "cores", rest,
                        compute && b.amx && !dev.amx ? " (no AMX: its int8 peak is VNNI's)" : "",
                        context_note(w));
  return e;
}

// Memory one sequence holds beside the weights: its activations (encoders, from the
// bench's batch, scaled by length) or its KV cache at the longest context (decoders).
double memory_per_sequence(const BenchReport& b, const Demand& d) {
  if (b.kind == ModelKind::decoder) return b.kv_bytes_per_token * d.context_tokens;
  return b.activation_bytes / b.batch * d.input_tokens / b.input_tokens;
}

double memory_needed(const BenchReport& b, const Demand& d, double weights, int batch, const CostAssumptions& c) {
  return (weights + batch * memory_per_sequence(b, d)) * (1 + c.runtime_overhead);
}

// One forward pass of `batch` sequences on an accelerator: the slower of its int8 compute
// and its memory traffic at the catalog's efficiency shares, + the fixed time per layer.
struct ForwardPass {
  double ops = 0, bytes = 0;
  double seconds = 0;
  bool compute_bound = false;
};

ForwardPass accelerator_pass(const Device& dev, const Efficiency& eff, const BenchReport& b, const Demand& d,
                             Stage stage, int batch) {
  double tokens = batch * tokens_per_sequence(stage, d.input_tokens);
  double ops = 2 * b.matmul_parameters * tokens;
  double bytes = b.matmul_dense_bytes;
  if (!compute_bound(stage))
    bytes += batch * b.kv_bytes_per_token * mean_context(stage, d.input_tokens, d.generated_tokens);
  double compute_s = ops / (dev.int8_tops * 1e12 * eff.compute);
  double memory_s = bytes / (dev.bandwidth_gbs * 1e9 * eff.bandwidth);
  return {ops, bytes, std::max(compute_s, memory_s) + eff.per_layer_ms / 1e3 * b.layers, compute_s >= memory_s};
}

double p95_over_p50(const Phase& p) { return p.p50_ms > 0 ? std::max(1.0, p.p95_ms / p.p50_ms) : 1; }

PhaseEstimate on_accelerator(const Device& dev, const Phase& p, const BenchReport& b, const Demand& d,
                             const Catalog& catalog, const Workload& w) {
  PhaseEstimate e = estimate_of(p, b);
  const Efficiency& eff = dev.kind == DeviceKind::gpu ? catalog.gpu : catalog.npu;
  auto slo = w.latency_slo_p95_ms.find(p.stage);
  double objective = slo == w.latency_slo_p95_ms.end() ? 0 : slo->second;
  double weights = std::max(b.model_bytes, b.matmul_dense_bytes);
  auto p95_ms = [&](int batch) {
    return accelerator_pass(dev, eff, b, d, p.stage, batch).seconds * 1e3 * p95_over_p50(p);
  };
  // Throughput grows with the batch: the largest one memory and the objective allow; the
  // limit named is what the next larger batch failed.
  e.batch_limit = "runtime maximum";
  for (e.batch = eff.max_batch; e.batch > 1; --e.batch) {
    if (dev.memory_bytes > 0 &&
        !fits_in_memory(memory_needed(b, d, weights, e.batch, w.costs), dev.memory_bytes, w.costs.memory_headroom)) {
      e.batch_limit = "memory";
    } else if (objective > 0 && p95_ms(e.batch) > objective) {
      e.batch_limit = p.latency_label + " objective";
    } else {
      break;
    }
  }
  ForwardPass pass = accelerator_pass(dev, eff, b, d, p.stage, e.batch);
  double tokens = e.batch * tokens_per_sequence(p.stage, d.input_tokens);
  e.tokens_per_s = tokens / pass.seconds;
  e.p95_ms = pass.seconds * 1e3 * p95_over_p50(p);
  e.basis = fmt::format("roofline at batch {} ({}): {:.0f} TOPS x {:.0f}% for {:.3g} ops and {:.0f} GB/s x {:.0f}% "
                        "for {:.3g} bytes per pass ({}-bound), + {:.3g} ms per layer x {:g} layers",
                        e.batch, e.batch_limit, dev.int8_tops, eff.compute * 100, pass.ops, dev.bandwidth_gbs,
                        eff.bandwidth * 100, pass.bytes, pass.compute_bound ? "compute" : "memory",
                        eff.per_layer_ms, b.layers);
  return e;
}

std::string dollars(double usd) {
  if (usd >= 100) return fmt::format("${:.0f}", usd);
  return usd >= 0.1 || usd == 0 ? fmt::format("${:.2f}", usd) : fmt::format("${:.2g}", usd);
}

// The phases' rates of one option, the user's measurements overriding estimates; then each
// phase's latency against the workload's objective.
std::vector<PhaseEstimate> finish_phases(std::vector<PhaseEstimate> phases, const Measurement* m,
                                         const BenchReport& b, const Demand& d, const Workload& w) {
  for (size_t i = 0; i < phases.size(); ++i) {
    PhaseEstimate& e = phases[i];
    const Phase& bench = b.phases[i];
    const MeasuredPhase* given = nullptr;
    if (m)
      if (auto it = m->phases.find(e.stage); it != m->phases.end()) given = &it->second;
    double estimated_rate = e.tokens_per_s;
    if (given && (given->tokens_per_s > 0 || given->requests_per_s > 0)) {
      e.tokens_per_s = given->tokens_per_s > 0 ? given->tokens_per_s : given->requests_per_s * tokens_in(d, e.stage);
      e.measured = true;
      e.basis = "measured by the user (--measured)";
    }
    if (given && given->p95_ms > 0) {
      e.p95_ms = given->p95_ms;
    } else if (e.p95_ms > 0) {  // an accelerator's modelled pass, at the measured rate if given
      e.p95_ms *= estimated_rate / e.tokens_per_s;
    } else {
      e.p95_ms = bench.p95_ms * bench.tokens_per_s / e.tokens_per_s * tokens_per_sequence(e.stage, d.input_tokens) /
                 tokens_per_sequence(e.stage, b.input_tokens);
    }
    auto slo = w.latency_slo_p95_ms.find(e.stage);
    e.objective_ms = slo == w.latency_slo_p95_ms.end() ? 0 : slo->second;
    e.latency_ok = e.objective_ms <= 0 || e.p95_ms <= e.objective_ms;
  }
  return phases;
}

// A CPU holds more streams than the bench ran by stepping them together: the weights a
// decode step streams (the catalog's generate matmul share of the step) are shared, the rest
// of the step grows with the streams. The most streams whose step meets the token objective
// and whose KV caches fit, up to the catalog's CPU maximum; never fewer than the bench ran.
int cpu_streams(const PhaseEstimate& decode, const BenchReport& b, const Demand& d, const Workload& w,
                double memory_bytes, const Catalog& catalog) {
  const double s = catalog.cpu.matmul_share_generate;
  const double kv = b.kv_bytes_per_token * mean_context(Stage::generate, d.input_tokens, d.generated_tokens);
  auto step_p95_ms = [&](int streams) {
    return decode.p95_ms * (s * (b.decode_weight_bytes + streams * kv) / (b.decode_weight_bytes + b.batch * kv) +
                            (1 - s) * streams / b.batch);
  };
  int streams = std::max(static_cast<int>(b.batch), catalog.cpu.max_batch);
  for (; streams > b.batch; --streams) {
    bool fits = memory_bytes <= 0 ||
                fits_in_memory(memory_needed(b, d, b.model_bytes, streams, w.costs), memory_bytes, w.costs.memory_headroom);
    if (fits && (decode.objective_ms <= 0 || step_p95_ms(streams) <= decode.objective_ms)) break;
  }
  return streams;
}

// A CPU option of a decoder: the streams it holds, and the KV caches they keep in memory.
void hold_streams(Option& o, const BenchReport& b, const Demand& d, const Workload& w, const Catalog& catalog) {
  if (b.kind != ModelKind::decoder) return;
  o.streams_per_unit = cpu_streams(o.phases.back(), b, d, w, o.memory_bytes, catalog);
  o.memory_needed_bytes = memory_needed(b, d, b.model_bytes, o.streams_per_unit, w.costs);
  o.fits = o.memory_bytes <= 0 || fits_in_memory(o.memory_needed_bytes, o.memory_bytes, w.costs.memory_headroom);
}

// What one unit of an option costs to buy and run.
struct UnitCost {
  double card_usd = 0, host_usd = 0, power_w = 0;
  double cloud_usd_per_hour = 0;  // the rate billed, for cloud options
  bool reserved = false;          // cloud: reserved for the whole month at peak units
  int owned_units = 0;            // units already owned (no purchase)
  bool extra_units_priced = true;  // false: units beyond those owned have no price
};

// Sizes and costs one option whose phases and memory are set.
void size_and_cost(Option& o, const UnitCost& unit, const Demand& demand, const Workload& w) {
  const CostAssumptions& c = w.costs;
  // Seconds of one unit per request: each phase's tokens at its rate.
  double seconds_per_request = 0;
  bool all_running = true;
  for (const PhaseEstimate& p : o.phases) {
    all_running = all_running && p.tokens_per_s > 0;
    if (p.tokens_per_s > 0) seconds_per_request += tokens_in(demand, p.stage) / p.tokens_per_s;
  }
  o.requests_per_s = all_running && seconds_per_request > 0 ? 1 / seconds_per_request : 0;
  o.tokens_per_s = o.requests_per_s * demand.tokens_per_request;
  o.throughput_measured = std::all_of(o.phases.begin(), o.phases.end(), [](const auto& p) { return p.measured; });
  o.latency_ok = std::all_of(o.phases.begin(), o.phases.end(), [](const auto& p) { return p.latency_ok; });
  double worst = 0;
  for (const PhaseEstimate& p : o.phases)
    if (p.objective_ms > 0 && p.p95_ms / p.objective_ms > worst)
      worst = p.p95_ms / p.objective_ms, o.binding_objective = p.latency_label;

  double usable = o.tokens_per_s * c.utilisation;
  o.units_for_peak = usable > 0 ? std::max(1, static_cast<int>(std::ceil(demand.peak_tokens_per_s / usable))) : 0;
  o.units_set_by = "throughput";
  if (o.streams_per_unit <= 0) o.streams_per_unit = o.phases.back().batch;
  if (demand.peak_concurrent_users > 0 && o.streams_per_unit > 0) {
    int for_users = static_cast<int>(std::ceil(demand.peak_concurrent_users / o.streams_per_unit));
    if (for_users > o.units_for_peak) o.units_for_peak = for_users, o.units_set_by = "concurrent users";
    if (o.streams_per_unit > o.phases.back().batch)
      o.warnings.push_back(fmt::format("{} streams per unit estimated from the {} measured at once", o.streams_per_unit,
                                       o.phases.back().batch));
  }
  o.units = o.units_for_peak + w.redundancy;
  o.card_price_usd = unit.card_usd;
  o.host_price_usd = unit.host_usd;
  double unit_power = unit.power_w;
  double hours_per_month = w.hours_per_day * 30;
  double hours_per_year = w.hours_per_day * 365;
  double fixed_per_year = c.maintenance_usd_per_year + c.rack_usd_per_year;
  double unit_seconds_per_million = seconds_per_request > 0 ? 1e6 * seconds_per_request : 0;
  if (o.deployment == Deployment::cloud) {
    o.power_w = 0;
    o.billed_units = unit.reserved ? o.units
                                   : std::max(c.cloud_min_instances, usable > 0 ? demand.average_tokens_per_s / usable : 0) +
                                         w.redundancy;
    double hours = unit.reserved ? kHoursPerMonth : hours_per_month;
    o.usd_per_month = unit.cloud_usd_per_hour * o.billed_units * hours + c.egress_gb_per_month * c.egress_usd_per_gb;
    o.tco_3y = o.usd_per_month * 36;
    o.tco_5y = o.usd_per_month * 60;
    o.marginal_usd_per_million_requests = unit.cloud_usd_per_hour * unit_seconds_per_million / 3600 / c.utilisation;
  } else {
    double price = unit.card_usd + unit.host_usd;
    o.owned_units = std::min(o.units, unit.owned_units);
    int bought = o.units - o.owned_units;
    o.power_w = unit_power * o.units;
    double running = fixed_per_year / 12 + energy_cost(unit_power, hours_per_month, c.energy);
    o.usd_per_month = o.units * running + bought * amortised_per_month(price, c.years);
    o.tco_3y = o.units * on_prem_tco(0, unit_power, fixed_per_year, 3, hours_per_year, c.energy) + bought * price;
    o.tco_5y = o.units * on_prem_tco(0, unit_power, fixed_per_year, 5, hours_per_year, c.energy) + bought * price;
    if (unit.cloud_usd_per_hour > 0 && w.scope != DeploymentScope::on_prem)  // else renting is no alternative
      o.break_even_hours_per_year = break_even_hours_per_year(price, unit_power, fixed_per_year, c.years,
                                                              unit.cloud_usd_per_hour, c.energy);
    o.marginal_usd_per_million_requests = energy_cost(unit_power, unit_seconds_per_million / 3600, c.energy);
    if (bought > 0 && !unit.extra_units_priced)
      o.warnings.push_back(fmt::format("needs {} unit{} beyond the {} owned, with no price: set this_machine.price_usd",
                                       bought, bought == 1 ? "" : "s", o.owned_units));
    else if (o.owned_units > 0)
      o.warnings.push_back(fmt::format("{} of {} unit{} already owned: no purchase counted for {}", o.owned_units,
                                       o.units, o.units == 1 ? "" : "s", o.owned_units == 1 ? "it" : "them"));
    if (unit.host_usd > 0)
      o.warnings.push_back(fmt::format("unit = card {} + host server {}", dollars(unit.card_usd), dollars(unit.host_usd)));
  }
  o.usd_per_million_requests = cost_per_million(o.usd_per_month, demand.requests_per_month);
  o.usd_per_million_tokens = cost_per_million(o.usd_per_month, demand.tokens_per_month);
  o.marginal_usd_per_million_tokens = o.marginal_usd_per_million_requests / demand.tokens_per_request;
  bool priced = o.units - o.owned_units <= 0 || unit.extra_units_priced || o.deployment == Deployment::cloud;
  o.feasible = o.fits && o.latency_ok && o.tokens_per_s > 0 && priced;

  if (!o.throughput_measured) o.warnings.push_back("throughput, latency and costs estimated, not measured");
  if (!o.fits)
    o.warnings.push_back(fmt::format("does not fit: needs {:.1f} GB, {:.0f}% of {:.0f} GB{} is {:.1f} GB",
                                     o.memory_needed_bytes / 1e9, c.memory_headroom * 100, o.memory_bytes / 1e9,
                                     o.unified_memory ? " (shared with the OS)" : "",
                                     o.memory_bytes * c.memory_headroom / 1e9));
  for (const PhaseEstimate& p : o.phases)
    if (!p.latency_ok)
      o.warnings.push_back(fmt::format("{} {:.0f} ms misses the {:.0f} ms objective", p.latency_label, p.p95_ms,
                                       p.objective_ms));
  if (o.units_for_peak > 1)
    o.warnings.push_back(fmt::format("needs {} {} at peak (set by {}){}", o.units_for_peak,
                                     o.deployment == Deployment::cloud ? "instances" : "units", o.units_set_by,
                                     w.redundancy > 0 ? fmt::format(" (+{} spare)", w.redundancy) : ""));
}

Option base_option(const std::string& name, const std::string& description, DeviceKind kind,
                   Deployment deployment, std::vector<PhaseEstimate> phases, double memory_bytes,
                   bool unified_memory, const BenchReport& b, const Demand& d, const CostAssumptions& c) {
  Option o;
  o.name = name;
  o.description = description;
  o.kind = kind;
  o.deployment = deployment;
  o.phases = std::move(phases);
  o.memory_bytes = memory_bytes;
  o.unified_memory = unified_memory;
  int batch = 1;
  for (const PhaseEstimate& p : o.phases) batch = std::max(batch, p.batch);
  double weights = kind == DeviceKind::cpu ? b.model_bytes : std::max(b.model_bytes, b.matmul_dense_bytes);
  o.memory_needed_bytes = memory_needed(b, d, weights, batch, c);
  o.fits = memory_bytes <= 0 || fits_in_memory(o.memory_needed_bytes, memory_bytes, c.memory_headroom);
  return o;
}

// What limits an option, in words: an objective or memory holding its batch, the users it
// must hold at once, or its throughput (with the objective it comes closest to).
std::string binding(const Option& o, const Demand& d) {
  for (const PhaseEstimate& p : o.phases)
    if (p.batch_limit.ends_with("objective"))
      return fmt::format("The {} binds: it holds the {} batch to {} ({:.1f} ms of {:.0f} ms).", p.batch_limit, p.name,
                         p.batch, p.p95_ms, p.objective_ms);
  for (const PhaseEstimate& p : o.phases)
    if (p.batch_limit == "memory")
      return fmt::format("Memory binds: it holds the {} batch to {}.", p.name, p.batch);
  if (o.units_set_by == "concurrent users")
    return fmt::format("Concurrent users bind: {:.0f} at peak, {} streams per unit.", d.peak_concurrent_users,
                       o.streams_per_unit);
  std::string limit = o.units_for_peak == 1
                          ? fmt::format("One unit carries the peak at {:.2g}% of its rate",
                                        100 * d.peak_tokens_per_s / std::max(o.tokens_per_s, 1e-300))
                          : "Throughput binds";
  for (const PhaseEstimate& p : o.phases)
    if (p.latency_label == o.binding_objective)
      return fmt::format("{}; the closest objective is the {} ({:.1f} ms of {:.0f} ms).", limit, p.latency_label,
                         p.p95_ms, p.objective_ms);
  return limit + " (no latency objective).";
}

std::string objectives(const BenchReport& b, const Workload& w) {
  std::string all;
  for (const Phase& p : b.phases)
    if (auto slo = w.latency_slo_p95_ms.find(p.stage); slo != w.latency_slo_p95_ms.end())
      all += fmt::format(", {} <= {:.0f} ms", p.latency_label, slo->second);
  return all;
}

Verdict make_verdict(const Plan& plan, const std::optional<EvalReport>& eval, const Workload& w,
                     const BenchReport& b) {
  Verdict v;
  const Nouns& n = plan.nouns;
  const Option* cheapest = nullptr;
  const Option* cheapest_cpu = nullptr;
  for (const Option& o : plan.options) {
    if (!o.feasible) continue;
    if (!cheapest) cheapest = &o;
    if (!cheapest_cpu && o.kind == DeviceKind::cpu) cheapest_cpu = &o;
  }
  v.cpu_only_ok = cheapest_cpu != nullptr;
  if (cheapest) v.cheapest = cheapest->name;
  if (cheapest_cpu) v.cheapest_cpu = cheapest_cpu->name;
  const Demand& d = plan.demand;
  std::string peak = fmt::format("{:.1f} {}s/s ({:.0f} {}/s)", d.peak_tokens_per_s / d.tokens_per_request, n.request,
                                 d.peak_tokens_per_s, n.tokens);
  std::string per = n.quote_per_token ? "1M " + n.tokens : "1M " + n.request + "s";
  auto estimated = [](const Option& o) { return o.throughput_measured ? "" : " (estimated)"; };

  std::string quality;
  if (eval && eval->floor_metric.empty()) {
    quality = fmt::format("Quality measured (accuracy {:.3f}, macro-F1 {:.3f}) but no floor was set.", eval->accuracy,
                          eval->macro_f1);
    v.warnings.push_back("no quality floor: run `sparq eval --floor ...` to have the plan check one");
  } else if (eval) {
    v.quality_ok = eval->floor_passed;
    double achieved = eval->floor_measured >= 0             ? eval->floor_measured
                      : eval->floor_metric == "accuracy" ? eval->accuracy
                                                          : eval->macro_f1;
    quality = eval->floor_passed
                  ? fmt::format("The compressed model clears the quality floor ({} {:.3f} >= {:.3f}).",
                                floor_metric_text(eval->floor_metric), achieved, eval->floor_value)
                  : fmt::format("The compressed model MISSES the quality floor ({} {:.3f} < {:.3f}); "
                                "no hardware choice fixes that - compress less or fine-tune.",
                                floor_metric_text(eval->floor_metric), achieved, eval->floor_value);
  } else {
    quality = "Quality not checked (no --eval report).";
    v.warnings.push_back("quality floor not checked: give the `sparq eval --json` report with --eval");
  }
  std::string cpu = cheapest_cpu
      ? fmt::format("CPU-only clears the throughput floor: {} carries the peak of {} with {} unit{} at {} per {}{}.",
                    cheapest_cpu->name, peak, cheapest_cpu->units, cheapest_cpu->units == 1 ? "" : "s",
                    dollars(cheapest_cpu->headline_usd(n)), per, estimated(*cheapest_cpu))
      : fmt::format("CPU-only does NOT clear the floors (peak {}{}).", peak, objectives(b, w));
  std::string best = cheapest ? fmt::format("Cheapest option that does: {} at {} per {} ({}/month){}.", cheapest->name,
                                            dollars(cheapest->headline_usd(n)), per, dollars(cheapest->usd_per_month),
                                            estimated(*cheapest))
                              : "No option in the catalog meets the workload's floors.";
  v.summary = quality + " " + cpu + " " + best;

  if (cheapest) {
    v.reasons.push_back(fmt::format("{}: {:.0f} {}/s per unit ({}), {} needed with N+{} redundancy (set by {}).",
                                    cheapest->name, cheapest->tokens_per_s, n.tokens,
                                    cheapest->throughput_measured ? "measured" : "estimated", cheapest->units,
                                    w.redundancy, cheapest->units_set_by));
    v.reasons.push_back(binding(*cheapest, d));
    v.reasons.push_back(fmt::format("Marginal cost on {} already paid for: {} per {} (full cost {}).", cheapest->name,
                                    dollars(n.quote_per_token ? cheapest->marginal_usd_per_million_tokens
                                                            : cheapest->marginal_usd_per_million_requests),
                                    per, dollars(cheapest->headline_usd(n))));
    const Option* next = nullptr;
    for (const Option& o : plan.options)
      if (o.feasible && &o != cheapest) { next = &o; break; }
    if (next)
      v.reasons.push_back(fmt::format("Next cheapest: {} at {} per {} ({:.1f}x){}.", next->name,
                                      dollars(next->headline_usd(n)), per,
                                      next->headline_usd(n) / cheapest->headline_usd(n), estimated(*next)));
    if (cheapest->break_even_hours_per_year)
      v.reasons.push_back(fmt::format("Owning {} beats renting it above {:.0f} hours/year; this workload runs "
                                      "{:.0f} hours/year.",
                                      cheapest->name, *cheapest->break_even_hours_per_year, w.hours_per_day * 365));
    for (const std::string& warning : cheapest->warnings) v.warnings.push_back(cheapest->name + ": " + warning);
  }
  int unfit = 0, slow = 0;
  for (const Option& o : plan.options) {
    unfit += !o.fits;
    slow += o.fits && !o.latency_ok;
  }
  if (unfit) v.reasons.push_back(fmt::format("{} option(s) ruled out by memory (the {:.0f}% headroom rule).",
                                             unfit, w.costs.memory_headroom * 100));
  if (slow)
    v.reasons.push_back(fmt::format("{} option(s) ruled out by the latency objective{} ({}).", slow,
                                    w.latency_slo_p95_ms.size() > 1 ? "s" : "", objectives(b, w).substr(2)));
  if (b.model_bytes < b.parameters * 0.75)
    v.reasons.push_back(fmt::format("The model stores {:.2f} bytes per parameter ({}); GPU/NPU estimates "
                                    "assume dense work and do not get the sparse CPU speedup.",
                                    b.model_bytes / b.parameters, b.model_format));
  for (const std::string& warning : b.warnings) v.warnings.push_back(warning);
  return v;
}

// What the plan could not check, said in the verdict: the workload's lengths against the
// bench's, and a latency objective against a batch's latency.
std::vector<std::string> input_warnings(const Workload& w, const BenchReport& b, const Demand& d) {
  std::vector<std::string> out;
  if (b.kind == ModelKind::encoder) {
    if (w.input_tokens > d.input_tokens)
      out.push_back(fmt::format("avg_tokens_per_document {:g} is beyond the bench's sequence length of {:g}: longer "
                                "documents are cut, so each is planned as {:g} tokens of work",
                                w.input_tokens, b.seq_len, d.input_tokens));
    double ratio = d.input_tokens / b.input_tokens;
    if (ratio > 1.5 || ratio < 1 / 1.5)
      out.push_back(fmt::format("the bench measured {:.0f} tokens per document and the workload has {:.0f}: rates are "
                                "scaled by tokens, but attention grows with length; bench documents like the "
                                "workload's (sparq bench --input) for a measured figure",
                                b.input_tokens, d.input_tokens));
    if (w.latency_slo_p95_ms.count(Stage::read) && b.batch > 1)
      out.push_back(fmt::format("the latency objective is checked against the p95 of a batch of {:g} documents "
                                "({:.1f} ms); a request served alone is faster: re-bench with --batch-size 1 and "
                                "plan with that report",
                                b.batch, b.phases[0].p95_ms));
  } else if (d.peak_concurrent_users > b.batch) {
    out.push_back(fmt::format("{:.0f} concurrent users at peak, but the bench generated {:g} sequences at once: what "
                              "a CPU holds beyond that is estimated; bench with --batch-size {:.0f} for a measured "
                              "rate at that concurrency",
                              d.peak_concurrent_users, b.batch, std::ceil(d.peak_concurrent_users)));
  }
  return out;
}

// The workload must be of the bench's kind and, for a decoder, fit the model's context.
Status check_workload(const Workload& w, const BenchReport& b, const Demand& d) {
  if (w.kind != b.kind)
    return Error(fmt::format("{}: plans {} ({}), but {} is the bench of {} {}: see {}", w.file,
                             w.kind == ModelKind::decoder ? "generation requests" : "documents",
                             w.kind == ModelKind::decoder ? "requests_per_day or generated_tokens_per_month"
                                                          : "documents_per_day or tokens_per_month",
                             b.file, b.kind == ModelKind::decoder ? "a" : "an", model_kind_name(b.kind),
                             b.kind == ModelKind::decoder ? "models/example-llm-workload.yaml"
                                                          : "models/example-workload.yaml"));
  if (b.kind != ModelKind::decoder) return {};
  if (d.context_tokens < d.input_tokens + d.generated_tokens)
    return Error(fmt::format("{}: max_context_tokens: {:g} is shorter than an average request ({:g} prompt + {:g} "
                             "generated tokens)",
                             w.file, d.context_tokens, d.input_tokens, d.generated_tokens));
  if (b.context_length > 0 && d.context_tokens > b.context_length)
    return Error(fmt::format("{}: {}: {:g} tokens per sequence exceed the model's context of {:g} ({})", w.file,
                             w.context_tokens > 0 ? "max_context_tokens" : "avg_prompt_tokens + avg_generated_tokens",
                             d.context_tokens, b.context_length, b.file));
  return {};
}

Error measured_error(const std::string& message) {
  return Error(message, ErrorKind::invalid_input).about("measured");
}

bool allowed(Deployment d, DeploymentScope scope) {
  if (scope == DeploymentScope::any) return true;
  return (d == Deployment::cloud) == (scope == DeploymentScope::cloud);
}

}  // namespace

// No wattage given: about 10 W per hardware thread of a loaded server CPU, labelled as a guess.
double this_machine_power_w(const Workload& w, const BenchReport& b) {
  return w.this_machine.power_estimated ? 10.0 * std::max(1, b.cpu_threads) : w.this_machine.power_w;
}

double memory_left_bytes(const Option& o, const CostAssumptions& costs) {
  return o.memory_bytes * costs.memory_headroom - o.memory_needed_bytes;
}

bool plan_misses_floors(const Plan& plan) {
  return (plan.verdict.quality_ok && !*plan.verdict.quality_ok) || plan.verdict.cheapest.empty();
}

Result<Plan> make_plan(const BenchReport& bench, const std::optional<EvalReport>& eval,
                       const Workload& workload, const Catalog& catalog,
                       const std::map<std::string, Measurement>& measured) {
  std::vector<std::string_view> names = {kThisMachine};
  for (const Device& d : catalog.devices) names.push_back(d.name);
  auto known = [&](const std::string& name) { return std::find(names.begin(), names.end(), name) != names.end(); };
  for (const auto& [name, m] : measured) {
    if (!known(name))
      return measured_error(fmt::format("measurement for {}: no such device in {} (nor \"{}\")", name, catalog.file,
                                        kThisMachine));
    if (m.kind != bench.kind)
      return measured_error(fmt::format("measurement for {}: {} figures, but {} is the bench of {} {}", name,
                                        model_kind_name(m.kind), bench.file,
                                        bench.kind == ModelKind::decoder ? "a" : "an", model_kind_name(bench.kind)));
  }
  for (const std::string& name : workload.exclude)
    if (!known(name)) {
      std::string hint = formats::closest_name(name, names);
      return Error(fmt::format("{}: exclude: \"{}\" is no device of {}{}", workload.file, name, catalog.file,
                               hint.empty() ? "" : fmt::format(" (did you mean {}?)", hint)));
    }
  Plan plan;
  plan.kind = bench.kind;
  plan.nouns = nouns_for(bench.kind);
  plan.demand = workload_demand(workload, bench);
  if (Status s = check_workload(workload, bench, plan.demand); !s) return s.error();
  for (const Phase& p : bench.phases) {
    PhaseWork w = phase_work(bench, plan.demand, p.stage);
    double peak = compute_bound(p.stage) ? bench.int8_gops * 1e9 : bench.bandwidth_gbs * 1e9;
    plan.efficiency.push_back({p.name, compute_bound(p.stage), p.tokens_per_s, p.tokens_per_s * w.bench / peak});
  }
  const CostAssumptions& c = workload.costs;
  const Demand& d = plan.demand;
  auto measurement = [&](const std::string& name) -> const Measurement* {
    auto it = measured.find(name);
    return it == measured.end() ? nullptr : &it->second;
  };
  auto add = [&](Option o, const UnitCost& unit) {
    if (!allowed(o.deployment, workload.scope)) return;
    size_and_cost(o, unit, d, workload);
    plan.options.push_back(std::move(o));
  };
  auto excluded = [&](const std::string& name) {
    return std::find(workload.exclude.begin(), workload.exclude.end(), name) != workload.exclude.end();
  };

  if (!excluded(kThisMachine)) {
    std::vector<PhaseEstimate> phases;
    for (const Phase& p : bench.phases) phases.push_back(on_this_machine(p, bench, d));
    phases = finish_phases(std::move(phases), measurement(kThisMachine), bench, d, workload);
    const OwnedMachine& m = workload.this_machine;
    double power = this_machine_power_w(workload, bench);
    std::string description = fmt::format("{} ({} threads, the bench machine)", bench.cpu_model, bench.cpu_threads);
    Option o = base_option(kThisMachine, description, DeviceKind::cpu,
                           m.owned_units > 0 ? Deployment::owned : Deployment::on_prem, phases, bench.memory_bytes,
                           false, bench, d, c);
    if (m.power_estimated) o.warnings.push_back(fmt::format("power {:.0f} W estimated (set this_machine.power_w)", power));
    hold_streams(o, bench, d, workload, catalog);
    add(o, {m.price_usd, 0, power, m.cloud_usd_per_hour, false, m.owned_units, m.price_usd > 0});
    if (m.cloud_usd_per_hour > 0) {
      Option rented = base_option(std::string(kThisMachine) + "-cloud", description + ", rented on demand",
                                  DeviceKind::cpu, Deployment::cloud, phases, bench.memory_bytes, false, bench, d, c);
      hold_streams(rented, bench, d, workload, catalog);
      add(rented, {0, 0, 0, m.cloud_usd_per_hour});
    }
  }
  for (const Device& dev : catalog.devices) {
    if (excluded(dev.name)) continue;
    std::vector<PhaseEstimate> phases;
    for (const Phase& p : bench.phases)
      phases.push_back(dev.kind == DeviceKind::cpu ? on_cpu(dev, p, bench, d, catalog)
                                                   : on_accelerator(dev, p, bench, d, catalog, workload));
    phases = finish_phases(std::move(phases), measurement(dev.name), bench, d, workload);
    auto option = [&](const std::string& suffix, Deployment where, const std::string& how) {
      Option o = base_option(dev.name + suffix, dev.description + how, dev.kind, where, phases, dev.memory_bytes,
                             dev.unified_memory, bench, d, c);
      if (dev.kind == DeviceKind::cpu) hold_streams(o, bench, d, workload, catalog);
      return o;
    };
    add(option("", Deployment::on_prem, dev.host.empty() ? "" : ", in a " + dev.host),
        {dev.price_usd, dev.host_price_usd, dev.power_w + dev.host_power_w, dev.cloud_usd_per_hour});
    if (dev.cloud_usd_per_hour > 0)
      add(option("-cloud", Deployment::cloud, ", rented on demand"), {0, 0, 0, dev.cloud_usd_per_hour});
    if (dev.cloud_reserved_usd_per_hour > 0)
      add(option("-cloud-reserved", Deployment::cloud, ", rented reserved"),
          {0, 0, 0, dev.cloud_reserved_usd_per_hour, true});
  }
  for (const std::string& warning : input_warnings(workload, bench, d)) plan.verdict.warnings.push_back(warning);
  // Per request and per token rank alike: both divide the monthly cost by one workload's volume.
  std::stable_sort(plan.options.begin(), plan.options.end(), [](const Option& a, const Option& b) {
    if (a.feasible != b.feasible) return a.feasible;
    return a.usd_per_million_requests < b.usd_per_million_requests;
  });
  std::vector<std::string> warnings = std::move(plan.verdict.warnings);
  plan.verdict = make_verdict(plan, eval, workload, bench);
  plan.verdict.warnings.insert(plan.verdict.warnings.begin(), warnings.begin(), warnings.end());
  return plan;
}

nlohmann::json to_json(const Plan& plan, const BenchReport& bench, const Workload& workload) {
  using nlohmann::json;
  auto finite_or_null = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  auto label = [](bool measured) { return measured ? "measured" : "estimated"; };
  const std::string requests = plan.nouns.request + "s";
  json options = json::array();
  for (const Option& o : plan.options) {
    json phases = json::array();
    for (const PhaseEstimate& p : o.phases)
    {
      json phase = {{"name", p.name}, {"tokens_per_s", p.tokens_per_s}, {"label", label(p.measured)},
                    {"batch", p.batch}, {"batch_limit", p.batch_limit}, {"basis", p.basis}};
      if (p.tokens_per_s_max > 0) phase["tokens_per_s_range"] = {p.tokens_per_s_min, p.tokens_per_s_max};
      phases.push_back(std::move(phase));
    }
    json option = {
        {"name", o.name}, {"description", o.description}, {"kind", device_kind_name(o.kind)},
        {"deployment", deployment_name(o.deployment)},
        {"throughput", {{"tokens_per_s", o.tokens_per_s}, {requests + "_per_s", o.requests_per_s},
                        {"label", label(o.throughput_measured)}, {"basis", o.throughput_basis()},
                        {"phases", phases}}},
        {"memory", {{"needed_bytes", o.memory_needed_bytes}, {"device_bytes", o.memory_bytes},
                    {"headroom_bytes", memory_left_bytes(o, workload.costs)},
                    {"unified", o.unified_memory}, {"fits", o.fits}}},
        {"units_for_peak", o.units_for_peak}, {"units", o.units}, {"units_set_by", o.units_set_by},
        {"owned_units", o.owned_units}, {"billed_units", o.billed_units},
        {"streams_per_unit", plan.kind == ModelKind::decoder ? json(o.streams_per_unit) : json(nullptr)},
        {"unit_price_usd", {{"device", o.card_price_usd}, {"host", o.host_price_usd}}},
        {"power_w", o.power_w},
        {"costs_label", label(o.throughput_measured)},
        {"usd_per_month", o.usd_per_month},
        {"usd_per_million_" + requests, finite_or_null(o.usd_per_million_requests)},
        {"usd_per_million_tokens", finite_or_null(o.usd_per_million_tokens)},
        {"marginal_usd_per_million_" + requests, finite_or_null(o.marginal_usd_per_million_requests)},
        {"marginal_usd_per_million_tokens", finite_or_null(o.marginal_usd_per_million_tokens)},
        {"tco_usd", {{"3_years", o.tco_3y}, {"5_years", o.tco_5y}}},
        {"binding_objective", o.binding_objective.empty() ? json(nullptr) : json(o.binding_objective)},
        {"break_even_hours_per_year",
         o.break_even_hours_per_year ? finite_or_null(*o.break_even_hours_per_year) : json(nullptr)},
        {"feasible", o.feasible}, {"warnings", o.warnings},
    };
    for (const PhaseEstimate& p : o.phases) {
      option[p.latency_key + "_p95_ms"] = {
          {"value", p.p95_ms}, {"label", label(p.measured)},
          {"objective_ms", p.objective_ms > 0 ? json(p.objective_ms) : json(nullptr)},
          {"meets_objective", p.latency_ok}};
    }
    options.push_back(std::move(option));
  }
  json efficiency = json::array();
  for (const PhaseEfficiency& e : plan.efficiency)
    efficiency.push_back({{"name", e.name}, {"bound", e.compute_bound ? "int8 compute" : "memory bandwidth"},
                          {"tokens_per_s", e.tokens_per_s}, {"roofline_share", e.roofline_share}});
  const Demand& d = plan.demand;
  json demand = {{"name", workload.name},
                 {requests + "_per_month", d.requests_per_month},
                 {"tokens_per_month", d.tokens_per_month},
                 {"tokens_per_" + plan.nouns.request, d.tokens_per_request},
                 {"counted_tokens", plan.nouns.tokens},
                 {"average_tokens_per_s", d.average_tokens_per_s},
                 {"peak_tokens_per_s", d.peak_tokens_per_s},
                 {"peak_" + requests + "_per_s", d.peak_tokens_per_s / d.tokens_per_request},
                 {"hours_per_day", workload.hours_per_day},
                 {"peak_to_average", workload.peak_to_average},
                 {"growth_per_year", workload.growth_per_year},
                 {"redundancy", workload.redundancy},
                 {"deployment", workload.scope == DeploymentScope::any       ? "any"
                                : workload.scope == DeploymentScope::on_prem ? "on-prem"
                                                                             : "cloud"},
                 {"exclude", workload.exclude}};
  if (plan.kind == ModelKind::decoder) {
    demand["avg_prompt_tokens"] = d.input_tokens;
    demand["avg_generated_tokens"] = d.generated_tokens;
    demand["max_context_tokens"] = d.context_tokens;
    demand["peak_concurrent_users"] = d.peak_concurrent_users > 0 ? json(d.peak_concurrent_users) : json(nullptr);
  }
  for (const Phase& p : bench.phases) {
    auto slo = workload.latency_slo_p95_ms.find(p.stage);
    demand[p.latency_key + "_slo_p95_ms"] = slo == workload.latency_slo_p95_ms.end() ? 0.0 : slo->second;
  }
  const Verdict& v = plan.verdict;
  const CostAssumptions& c = workload.costs;
  return {
      {"version", 1},
      {"model", {{"name", bench.model_name}, {"bytes", bench.model_bytes}, {"parameters", bench.parameters},
                 {"kind", model_kind_name(bench.kind)}}},
      {"measured_machine", {{"cpu", bench.cpu_model}, {"threads", bench.cpu_threads},
                            {"bandwidth_gbs", bench.bandwidth_gbs}, {"int8_gops", bench.int8_gops},
                            {"phases", efficiency}}},
      {"workload", demand},
      {"assumptions", {{"electricity_usd_per_kwh", c.energy.usd_per_kwh}, {"pue", c.energy.pue},
                       {"years", c.years}, {"utilisation", c.utilisation},
                       {"maintenance_usd_per_year", c.maintenance_usd_per_year},
                       {"rack_usd_per_year", c.rack_usd_per_year}, {"egress_gb_per_month", c.egress_gb_per_month},
                       {"egress_usd_per_gb", c.egress_usd_per_gb}, {"memory_headroom", c.memory_headroom},
                       {"runtime_overhead", c.runtime_overhead}, {"cloud_min_instances", c.cloud_min_instances},
                       {"owned_units", workload.this_machine.owned_units}}},
      {"options", options},
      {"verdict", {{"quality_ok", v.quality_ok ? json(*v.quality_ok) : json(nullptr)},
                   {"cpu_only_ok", v.cpu_only_ok},
                   {"cheapest", v.cheapest.empty() ? json(nullptr) : json(v.cheapest)},
                   {"cheapest_cpu", v.cheapest_cpu.empty() ? json(nullptr) : json(v.cheapest_cpu)},
                   {"summary", v.summary}, {"reasons", v.reasons}, {"warnings", v.warnings}}},
  };
}

}  // namespace sparq::runtime::planner
