#include "runtime/plan/plan.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string_view>

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
                 ErrorKind::invalid_argument)
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
      if (!b) return b.error();
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
  d.peak_tokens_per_s = d.average_tokens_per_s * w.peak_to_average *
                        std::pow(1 + w.growth_per_year, w.costs.years);
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

// The roofline of a phase: int8 ops per token for reading (dense: 2 x parameters); for
// generating, the bytes one token reads - the step's weights shared by the batch, and the
// sequence's KV cache up to `context`.
bool compute_bound(Stage stage) { return stage == Stage::read; }

double work_per_token(const BenchReport& b, Stage stage, double context) {
  return compute_bound(stage) ? 2 * b.parameters : b.decode_weight_bytes / b.batch + b.kv_bytes_per_token * context;
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

PhaseEstimate estimate_of(const Phase& p) {
  PhaseEstimate e;
  e.name = p.name;
  e.latency_key = p.latency_key;
  e.latency_label = p.latency_label;
  e.stage = p.stage;
  return e;
}

PhaseEstimate on_this_machine(const Phase& p, const BenchReport& b, const Demand& d) {
  PhaseEstimate e = estimate_of(p);
  PhaseWork w = phase_work(b, d, p.stage);
  e.tokens_per_s = p.tokens_per_s * w.bench / w.workload;
  e.measured = true;
  e.basis = fmt::format("sparq bench, {} threads{}", b.threads, context_note(w));
  return e;
}

PhaseEstimate on_device(const Device& dev, const Phase& p, const BenchReport& b, const Demand& d,
                        const Catalog& catalog) {
  PhaseEstimate e = estimate_of(p);
  bool compute = compute_bound(p.stage);
  PhaseWork w = phase_work(b, d, p.stage);
  if (dev.kind == DeviceKind::cpu) {
    // Same runtime, same model: the measured CPU's efficiency carries over by the ratio of peaks.
    double ratio = compute ? dev.int8_tops * 1e3 / b.int8_gops : dev.bandwidth_gbs / b.bandwidth_gbs;
    e.tokens_per_s = p.tokens_per_s * ratio * w.bench / w.workload;
    e.basis = (compute ? fmt::format("measured x int8 peak ratio {:.1f} TOPS/{:.2f} TOPS", dev.int8_tops,
                                     b.int8_gops / 1e3)
                       : fmt::format("measured x bandwidth ratio {:.0f}/{:.1f} GB/s", dev.bandwidth_gbs,
                                     b.bandwidth_gbs)) +
              context_note(w);
    return e;
  }
  const Efficiency& eff = dev.kind == DeviceKind::gpu ? catalog.gpu : catalog.npu;
  double roofline = compute ? dev.int8_tops * 1e12 * eff.compute / w.workload
                            : dev.bandwidth_gbs * 1e9 * eff.bandwidth / w.workload;
  // A forward pass carries the batch's tokens; its fixed cost bounds small models far below
  // the roofline.
  double tokens = b.batch * tokens_per_sequence(p.stage, d.input_tokens);
  double seconds = tokens / roofline + eff.per_forward_ms / 1e3;
  e.tokens_per_s = seconds > 0 ? tokens / seconds : 0;
  std::string peak = compute ? fmt::format("{:.0f} TOPS x {:.0f}% efficiency / {:.2g} ops per token", dev.int8_tops,
                                           eff.compute * 100, w.workload)
                             : fmt::format("{:.0f} GB/s x {:.0f}% efficiency / {:.2g} bytes per token",
                                           dev.bandwidth_gbs, eff.bandwidth * 100, w.workload);
  e.basis = eff.per_forward_ms > 0
                ? fmt::format("{}, + {:.2g} ms per forward of {:.0f} tokens", peak, eff.per_forward_ms, tokens)
                : peak;
  return e;
}

std::string money(double usd) {
  return usd >= 100 ? fmt::format("${:.0f}", usd) : fmt::format("${:.2f}", usd);
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
    if (given && (given->tokens_per_s > 0 || given->requests_per_s > 0)) {
      e.tokens_per_s = given->tokens_per_s > 0 ? given->tokens_per_s : given->requests_per_s * tokens_in(d, e.stage);
      e.measured = true;
      e.basis = "measured by the user (--measured)";
    }
    e.p95_ms = given && given->p95_ms > 0
                   ? given->p95_ms
                   : bench.p95_ms * bench.tokens_per_s / e.tokens_per_s *
                         tokens_per_sequence(e.stage, d.input_tokens) / tokens_per_sequence(e.stage, b.input_tokens);
    auto slo = w.latency_slo_p95_ms.find(e.stage);
    e.objective_ms = slo == w.latency_slo_p95_ms.end() ? 0 : slo->second;
    e.latency_ok = e.objective_ms <= 0 || e.p95_ms <= e.objective_ms;
  }
  return phases;
}

// Sizes and costs one option whose phases, price and power are set.
void size_and_cost(Option& o, double price_usd, double unit_power_w, double cloud_usd_per_hour,
                   const Demand& demand, const Workload& w) {
  const CostAssumptions& c = w.costs;
  // Seconds of one unit (at the bench's batch) per request: each phase's tokens at its rate.
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

  double usable = o.tokens_per_s * c.utilisation;
  o.units_for_peak = usable > 0 ? std::max(1, static_cast<int>(std::ceil(demand.peak_tokens_per_s / usable)))
                                : 0;
  o.units = o.units_for_peak + w.redundancy;
  double hours_per_year = w.hours_per_day * 365;
  double fixed_per_year = c.maintenance_usd_per_year + c.rack_usd_per_year;
  if (o.deployment == Deployment::cloud) {
    // Rented instances follow the average load (autoscaled), never below the minimum kept up.
    double instances = std::max(c.cloud_min_instances, demand.average_tokens_per_s / usable);
    o.power_w = 0;
    o.usd_per_month = cloud_usd_per_hour * instances * w.hours_per_day * 30 +
                      c.egress_gb_per_month * c.egress_usd_per_gb;
    o.tco_3y = o.usd_per_month * 36;
    o.tco_5y = o.usd_per_month * 60;
  } else {
    o.power_w = unit_power_w * o.units;
    o.usd_per_month = o.units * (amortised_per_month(price_usd, c.years) + fixed_per_year / 12 +
                                 energy_cost(unit_power_w, w.hours_per_day * 30, c.energy));
    o.tco_3y = o.units * on_prem_tco(price_usd, unit_power_w, fixed_per_year, 3, hours_per_year, c.energy);
    o.tco_5y = o.units * on_prem_tco(price_usd, unit_power_w, fixed_per_year, 5, hours_per_year, c.energy);
    if (cloud_usd_per_hour > 0)
      o.break_even_hours_per_year = break_even_hours_per_year(price_usd, unit_power_w, fixed_per_year,
                                                              c.years, cloud_usd_per_hour, c.energy);
  }
  o.usd_per_million_requests = cost_per_million(o.usd_per_month, demand.requests_per_month);
  o.usd_per_million_tokens = cost_per_million(o.usd_per_month, demand.tokens_per_month);
  o.feasible = o.fits && o.latency_ok && o.tokens_per_s > 0;

  if (!o.throughput_measured) o.warnings.push_back("throughput estimated, not measured");
  if (!o.fits)
    o.warnings.push_back(fmt::format("does not fit: needs {:.1f} GB, {:.0f}% of {:.0f} GB is {:.1f} GB",
                                     o.memory_needed_bytes / 1e9, c.memory_headroom * 100, o.memory_bytes / 1e9,
                                     o.memory_bytes * c.memory_headroom / 1e9));
  for (const PhaseEstimate& p : o.phases)
    if (!p.latency_ok)
      o.warnings.push_back(fmt::format("{} {:.0f} ms misses the {:.0f} ms objective", p.latency_label, p.p95_ms,
                                       p.objective_ms));
  if (o.units_for_peak > 1)
    o.warnings.push_back(fmt::format("needs {} {} at peak{}", o.units_for_peak,
                                     o.deployment == Deployment::cloud ? "instances" : "units",
                                     w.redundancy > 0 ? fmt::format(" (+{} spare)", w.redundancy) : ""));
}

Option base_option(const std::string& name, const std::string& description, DeviceKind kind,
                   Deployment deployment, std::vector<PhaseEstimate> phases, double memory_bytes,
                   const BenchReport& b, const Demand& d, const CostAssumptions& c) {
  Option o;
  o.name = name;
  o.description = description;
  o.kind = kind;
  o.deployment = deployment;
  o.phases = std::move(phases);
  o.memory_bytes = memory_bytes;
  double kv_cache = b.kv_bytes_per_token * b.batch * d.context_tokens;
  o.memory_needed_bytes = (b.model_bytes + b.activation_bytes + kv_cache) * (1 + c.runtime_overhead);
  o.fits = memory_bytes <= 0 || fits_in_memory(o.memory_needed_bytes, memory_bytes, c.memory_headroom);
  return o;
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

  std::string quality;
  if (eval && eval->floor_metric.empty()) {
    v.quality_ok = true;
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
                                eval->floor_metric, achieved, eval->floor_value)
                  : fmt::format("The compressed model MISSES the quality floor ({} {:.3f} < {:.3f}); "
                                "no hardware choice fixes that - compress less or fine-tune.",
                                eval->floor_metric, achieved, eval->floor_value);
  } else {
    quality = "Quality not checked (no --eval report).";
    v.warnings.push_back("quality floor not checked: give the `sparq eval --json` report with --eval");
  }
  std::string cpu = cheapest_cpu
      ? fmt::format("CPU-only clears the throughput floor: {} carries the peak of {} with {} unit{} at {} per {}.",
                    cheapest_cpu->name, peak, cheapest_cpu->units, cheapest_cpu->units == 1 ? "" : "s",
                    money(cheapest_cpu->headline_usd(n)), per)
      : fmt::format("CPU-only does NOT clear the floors (peak {}{}).", peak, objectives(b, w));
  std::string best = cheapest ? fmt::format("Cheapest option that does: {} at {} per {} ({}/month).", cheapest->name,
                                            money(cheapest->headline_usd(n)), per, money(cheapest->usd_per_month))
                              : "No option in the catalog meets the workload's floors.";
  v.summary = quality + " " + cpu + " " + best;

  if (cheapest) {
    v.reasons.push_back(fmt::format("{}: {:.0f} {}/s per unit ({}), {} needed with N+{} redundancy.", cheapest->name,
                                    cheapest->tokens_per_s, n.tokens,
                                    cheapest->throughput_measured ? "measured" : "estimated", cheapest->units,
                                    w.redundancy));
    const Option* next = nullptr;
    for (const Option& o : plan.options)
      if (o.feasible && &o != cheapest) { next = &o; break; }
    if (next)
      v.reasons.push_back(fmt::format("Next cheapest: {} at {} per {} ({:.1f}x).", next->name,
                                      money(next->headline_usd(n)), per,
                                      next->headline_usd(n) / cheapest->headline_usd(n)));
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
  if (b.parameters > 0 && b.model_bytes < b.parameters * 0.75)
    v.reasons.push_back(fmt::format("The model stores {:.2f} bytes per parameter ({}); GPU/NPU estimates "
                                    "assume dense work and do not get the sparse CPU speedup.",
                                    b.model_bytes / b.parameters, b.model_format));
  for (const std::string& warning : b.warnings) v.warnings.push_back(warning);
  return v;
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

}  // namespace

Result<Plan> make_plan(const BenchReport& bench, const std::optional<EvalReport>& eval,
                       const Workload& workload, const Catalog& catalog,
                       const std::map<std::string, Measurement>& measured) {
  for (const auto& [name, m] : measured) {
    // clang 14 cannot capture a structured binding in a lambda
    const std::string& device = name;
    bool known = name == kThisMachine || std::any_of(catalog.devices.begin(), catalog.devices.end(),
                                                     [&](const Device& d) { return d.name == device; });
    if (!known)
      return Error(fmt::format("measurement for {}: no such device in {} (nor \"{}\")", name, catalog.file,
                               kThisMachine),
                   ErrorKind::invalid_argument)
          .about("measured");
    if (m.kind != bench.kind)
      return Error(fmt::format("measurement for {}: {} figures, but {} is the bench of {} {}", name,
                               model_kind_name(m.kind), bench.file, bench.kind == ModelKind::decoder ? "a" : "an",
                               model_kind_name(bench.kind)),
                   ErrorKind::invalid_argument)
          .about("measured");
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
  auto add = [&](Option o, double price, double power, double cloud_rate) {
    size_and_cost(o, price, power, cloud_rate, d, workload);
    plan.options.push_back(std::move(o));
  };

  // The measured machine.
  {
    std::vector<PhaseEstimate> phases;
    for (const Phase& p : bench.phases) phases.push_back(on_this_machine(p, bench, d));
    phases = finish_phases(std::move(phases), measurement(kThisMachine), bench, d, workload);
    const OwnedMachine& m = workload.this_machine;
    // No wattage given: about 10 W per hardware thread of a loaded server CPU, labelled as a guess.
    double power = m.power_estimated ? 10.0 * std::max(1, bench.cpu_threads) : m.power_w;
    std::string description = fmt::format("{} ({} threads, the bench machine)", bench.cpu_model, bench.cpu_threads);
    Option o = base_option(kThisMachine, description, DeviceKind::cpu,
                           m.price_usd > 0 ? Deployment::on_prem : Deployment::owned, phases, bench.memory_bytes,
                           bench, d, c);
    if (m.power_estimated) o.warnings.push_back(fmt::format("power {:.0f} W estimated (set this_machine.power_w)", power));
    if (m.price_usd <= 0 && bench.memory_bytes > 0) o.warnings.push_back("already owned: no purchase cost counted");
    add(o, m.price_usd, power, m.cloud_usd_per_hour);
    if (m.cloud_usd_per_hour > 0)
      add(base_option(std::string(kThisMachine) + "-cloud", description + ", rented", DeviceKind::cpu,
                      Deployment::cloud, phases, bench.memory_bytes, bench, d, c),
          0, 0, m.cloud_usd_per_hour);
  }
  for (const Device& dev : catalog.devices) {
    std::vector<PhaseEstimate> phases;
    for (const Phase& p : bench.phases) phases.push_back(on_device(dev, p, bench, d, catalog));
    phases = finish_phases(std::move(phases), measurement(dev.name), bench, d, workload);
    add(base_option(dev.name, dev.description, dev.kind, Deployment::on_prem, phases, dev.memory_bytes, bench, d, c),
        dev.price_usd, dev.power_w, dev.cloud_usd_per_hour);
    if (dev.cloud_usd_per_hour > 0)
      add(base_option(dev.name + "-cloud", dev.description + ", rented", dev.kind, Deployment::cloud, phases,
                      dev.memory_bytes, bench, d, c),
          0, 0, dev.cloud_usd_per_hour);
  }
  // Per request and per token rank alike: both divide the monthly cost by one workload's volume.
  std::stable_sort(plan.options.begin(), plan.options.end(), [](const Option& a, const Option& b) {
    if (a.feasible != b.feasible) return a.feasible;
    return a.usd_per_million_requests < b.usd_per_million_requests;
  });
  plan.verdict = make_verdict(plan, eval, workload, bench);
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
      phases.push_back({{"name", p.name}, {"tokens_per_s", p.tokens_per_s}, {"label", label(p.measured)},
                        {"basis", p.basis}});
    json option = {
        {"name", o.name}, {"description", o.description}, {"kind", device_kind_name(o.kind)},
        {"deployment", deployment_name(o.deployment)},
        {"throughput", {{"tokens_per_s", o.tokens_per_s}, {requests + "_per_s", o.requests_per_s},
                        {"label", label(o.throughput_measured)}, {"basis", o.throughput_basis()},
                        {"phases", phases}}},
        {"memory", {{"needed_bytes", o.memory_needed_bytes}, {"device_bytes", o.memory_bytes}, {"fits", o.fits}}},
        {"units_for_peak", o.units_for_peak}, {"units", o.units}, {"power_w", o.power_w},
        {"usd_per_month", o.usd_per_month},
        {"usd_per_million_" + requests, finite_or_null(o.usd_per_million_requests)},
        {"usd_per_million_tokens", finite_or_null(o.usd_per_million_tokens)},
        {"tco_usd", {{"3_years", o.tco_3y}, {"5_years", o.tco_5y}}},
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
                 {"redundancy", workload.redundancy}};
  if (plan.kind == ModelKind::decoder) {
    demand["avg_prompt_tokens"] = d.input_tokens;
    demand["avg_generated_tokens"] = d.generated_tokens;
    demand["max_context_tokens"] = d.context_tokens;
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
                       {"runtime_overhead", c.runtime_overhead}}},
      {"options", options},
      {"verdict", {{"quality_ok", v.quality_ok ? json(*v.quality_ok) : json(nullptr)},
                   {"cpu_only_ok", v.cpu_only_ok},
                   {"cheapest", v.cheapest.empty() ? json(nullptr) : json(v.cheapest)},
                   {"cheapest_cpu", v.cheapest_cpu.empty() ? json(nullptr) : json(v.cheapest_cpu)},
                   {"summary", v.summary}, {"reasons", v.reasons}, {"warnings", v.warnings}}},
  };
}

}  // namespace sparq::runtime::planner
