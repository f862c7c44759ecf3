#include "runtime/plan/plan.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

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

Result<std::pair<std::string, Measurement>> parse_measurement(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error(fmt::format("measurement \"{}\": {} (expected NAME:tokens_per_s=X, documents_per_s=X "
                             "or p95_ms=X, comma-separated, or NAME:bench=FILE)",
                             text, why),
                 ErrorKind::invalid_argument)
        .about("measured");
  };
  size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) return bad("no device name");
  Measurement m;
  std::string rest = text.substr(colon + 1);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = std::min(rest.find(',', start), rest.size());
    std::string item = rest.substr(start, end - start);
    size_t eq = item.find('=');
    if (eq == std::string::npos) return bad(fmt::format("\"{}\" is not KEY=VALUE", item));
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "bench") {  // `sparq bench --json` run on that device: its figures, all of them
      Result<BenchReport> b = load_bench(value);
      if (!b) return b.error();
      m = {b->tokens_per_s, b->documents_per_s, b->p95_ms};
      start = end + 1;
      continue;
    }
    double v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || p != value.data() + value.size() || !std::isfinite(v) || v <= 0)
      return bad(fmt::format("{} must be a number > 0, got \"{}\"", key, value));
    if (key == "tokens_per_s") m.tokens_per_s = v;
    else if (key == "documents_per_s") m.documents_per_s = v;
    else if (key == "p95_ms") m.p95_ms = v;
    else return bad(fmt::format("unknown key \"{}\"", key));
    start = end + 1;
  }
  if (m.tokens_per_s <= 0 && m.documents_per_s <= 0) return bad("no throughput given");
  return std::make_pair(text.substr(0, colon), m);
}

Demand workload_demand(const Workload& w, const BenchReport& bench) {
  Demand d;
  d.tokens_per_document = w.avg_tokens_per_document > 0 ? w.avg_tokens_per_document
                                                        : bench.avg_tokens_per_document;
  if (w.documents_per_day > 0) {
    d.documents_per_month = w.documents_per_day * 30;
    d.tokens_per_month = d.documents_per_month * d.tokens_per_document;
  } else {
    d.tokens_per_month = w.tokens_per_month;
    d.documents_per_month = d.tokens_per_month / d.tokens_per_document;
  }
  d.average_tokens_per_s = d.tokens_per_month / (30 * w.hours_per_day * 3600);
  // Capacity bought now must still carry the peak at the end of its amortisation.
  d.peak_tokens_per_s = d.average_tokens_per_s * w.peak_to_average *
                        std::pow(1 + w.growth_per_year, w.costs.years);
  return d;
}

namespace {

struct Throughput {
  double tokens_per_s = 0;
  bool measured = false;
  std::string basis;
};

// Work per token: dense int8 multiply-adds for compute-bound models; weight bytes shared by
// the batch for decoders, which stream all weights once per step.
double ops_per_token(const BenchReport& b) { return 2 * b.parameters; }
double bytes_per_token(const BenchReport& b) { return b.model_bytes / b.batch; }

Throughput estimate(const Device& dev, const BenchReport& b, const Catalog& catalog) {
  Throughput t;
  bool decoder = b.kind == ModelKind::decoder;
  if (dev.kind == DeviceKind::cpu) {
    // Same runtime, same model: the measured CPU's efficiency carries over by the ratio of peaks.
    t.tokens_per_s = decoder ? b.tokens_per_s * dev.bandwidth_gbs / b.bandwidth_gbs
                             : b.tokens_per_s * dev.int8_tops * 1e3 / b.int8_gops;
    t.basis = decoder ? fmt::format("measured x bandwidth ratio {:.0f}/{:.1f} GB/s", dev.bandwidth_gbs, b.bandwidth_gbs)
                      : fmt::format("measured x int8 peak ratio {:.1f} TOPS/{:.2f} TOPS", dev.int8_tops,
                                    b.int8_gops / 1e3);
    return t;
  }
  const Efficiency& eff = dev.kind == DeviceKind::gpu ? catalog.gpu : catalog.npu;
  double roofline = decoder ? dev.bandwidth_gbs * 1e9 * eff.bandwidth / bytes_per_token(b)
                            : dev.int8_tops * 1e12 * eff.compute / ops_per_token(b);
  // A forward pass carries the batch's tokens (encoders) or one token per sequence
  // (decoders); its fixed cost bounds small models far below the roofline.
  double tokens = decoder ? b.batch : b.batch * (b.avg_tokens_per_document > 0 ? b.avg_tokens_per_document : b.seq_len);
  double seconds = tokens / roofline + eff.per_forward_ms / 1e3;
  t.tokens_per_s = seconds > 0 ? tokens / seconds : 0;
  std::string peak = decoder ? fmt::format("{:.0f} GB/s x {:.0f}% efficiency / {:.2g} bytes per token",
                                           dev.bandwidth_gbs, eff.bandwidth * 100, bytes_per_token(b))
                             : fmt::format("{:.0f} TOPS x {:.0f}% efficiency / {:.2g} ops per token", dev.int8_tops,
                                           eff.compute * 100, ops_per_token(b));
  t.basis = eff.per_forward_ms > 0
                ? fmt::format("{}, + {:.2g} ms per forward of {:.0f} tokens", peak, eff.per_forward_ms, tokens)
                : peak;
  return t;
}

std::string money(double usd) {
  return usd >= 100 ? fmt::format("${:.0f}", usd) : fmt::format("${:.2f}", usd);
}

// Sizes and costs one option whose per-unit throughput, price and power are set.
void size_and_cost(Option& o, double price_usd, double unit_power_w, double cloud_usd_per_hour,
                   const Demand& demand, const Workload& w, const BenchReport& b) {
  const CostAssumptions& c = w.costs;
  o.documents_per_s = o.tokens_per_s / demand.tokens_per_document;
  double usable = o.tokens_per_s * c.utilisation;
  o.units_for_peak = usable > 0 ? std::max(1, static_cast<int>(std::ceil(demand.peak_tokens_per_s / usable)))
                                : 0;
  o.units = o.units_for_peak + w.redundancy;
  o.p95_ms = b.p95_ms * b.tokens_per_s / o.tokens_per_s;
  o.latency_ok = w.latency_slo_p95_ms <= 0 || o.p95_ms <= w.latency_slo_p95_ms;
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
  o.usd_per_million_documents = cost_per_million(o.usd_per_month, demand.documents_per_month);
  o.usd_per_million_tokens = cost_per_million(o.usd_per_month, demand.tokens_per_month);
  o.feasible = o.fits && o.latency_ok && o.tokens_per_s > 0;

  if (!o.throughput_measured) o.warnings.push_back("throughput estimated, not measured");
  if (!o.fits)
    o.warnings.push_back(fmt::format("does not fit: needs {:.1f} GB, {:.0f}% of {:.0f} GB is {:.1f} GB",
                                     o.memory_needed_bytes / 1e9, c.memory_headroom * 100, o.memory_bytes / 1e9,
                                     o.memory_bytes * c.memory_headroom / 1e9));
  if (!o.latency_ok)
    o.warnings.push_back(fmt::format("p95 {:.0f} ms misses the {:.0f} ms objective", o.p95_ms,
                                     w.latency_slo_p95_ms));
  if (o.units_for_peak > 1)
    o.warnings.push_back(fmt::format("needs {} {} at peak{}", o.units_for_peak,
                                     o.deployment == Deployment::cloud ? "instances" : "units",
                                     w.redundancy > 0 ? fmt::format(" (+{} spare)", w.redundancy) : ""));
}

Option base_option(const std::string& name, const std::string& description, DeviceKind kind,
                   Deployment deployment, const Throughput& t, double memory_bytes,
                   const BenchReport& b, const CostAssumptions& c) {
  Option o;
  o.name = name;
  o.description = description;
  o.kind = kind;
  o.deployment = deployment;
  o.tokens_per_s = t.tokens_per_s;
  o.throughput_measured = t.measured;
  o.throughput_basis = t.basis;
  o.memory_bytes = memory_bytes;
  o.memory_needed_bytes = (b.model_bytes + b.activation_bytes) * (1 + c.runtime_overhead);
  o.fits = memory_bytes <= 0 || fits_in_memory(o.memory_needed_bytes, memory_bytes, c.memory_headroom);
  return o;
}

void apply_measurement(Throughput& t, double& p95_override, const Measurement& m, double tokens_per_document) {
  t.tokens_per_s = m.tokens_per_s > 0 ? m.tokens_per_s : m.documents_per_s * tokens_per_document;
  t.measured = true;
  t.basis = "measured by the user (--measured)";
  p95_override = m.p95_ms;
}

Verdict make_verdict(const Plan& plan, const std::optional<EvalReport>& eval, const Workload& w,
                     const BenchReport& b) {
  Verdict v;
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
  double peak_docs = plan.demand.peak_tokens_per_s / plan.demand.tokens_per_document;

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
      ? fmt::format("CPU-only clears the throughput floor: {} carries the peak of {:.1f} documents/s "
                    "with {} unit{} at {} per 1M documents.",
                    cheapest_cpu->name, peak_docs, cheapest_cpu->units, cheapest_cpu->units == 1 ? "" : "s",
                    money(cheapest_cpu->usd_per_million_documents))
      : fmt::format("CPU-only does NOT clear the floors (peak {:.1f} documents/s{}).", peak_docs,
                    w.latency_slo_p95_ms > 0 ? fmt::format(", p95 <= {:.0f} ms", w.latency_slo_p95_ms) : "");
  std::string best = cheapest ? fmt::format("Cheapest option that does: {} at {} per 1M documents ({}/month).",
                                            cheapest->name, money(cheapest->usd_per_million_documents),
                                            money(cheapest->usd_per_month))
                              : "No option in the catalog meets the workload's floors.";
  v.summary = quality + " " + cpu + " " + best;

  if (cheapest) {
    v.reasons.push_back(fmt::format("{}: {:.0f} tokens/s per unit ({}), {} needed with N+{} redundancy.",
                                    cheapest->name, cheapest->tokens_per_s,
                                    cheapest->throughput_measured ? "measured" : "estimated", cheapest->units,
                                    w.redundancy));
    const Option* next = nullptr;
    for (const Option& o : plan.options)
      if (o.feasible && &o != cheapest) { next = &o; break; }
    if (next)
      v.reasons.push_back(fmt::format("Next cheapest: {} at {} per 1M documents ({:.1f}x).", next->name,
                                      money(next->usd_per_million_documents),
                                      next->usd_per_million_documents / cheapest->usd_per_million_documents));
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
  if (slow) v.reasons.push_back(fmt::format("{} option(s) ruled out by the p95 latency objective.", slow));
  if (b.parameters > 0 && b.model_bytes < b.parameters * 0.75)
    v.reasons.push_back(fmt::format("The model stores {:.2f} bytes per parameter ({}); GPU/NPU estimates "
                                    "assume dense work and do not get the sparse CPU speedup.",
                                    b.model_bytes / b.parameters, b.model_format));
  return v;
}

}  // namespace

Result<Plan> make_plan(const BenchReport& bench, const std::optional<EvalReport>& eval,
                       const Workload& workload, const Catalog& catalog,
                       const std::map<std::string, Measurement>& measured) {
  for (const auto& entry : measured) {
    const std::string& name = entry.first;
    bool known = name == kThisMachine || std::any_of(catalog.devices.begin(), catalog.devices.end(),
                                                     [&](const Device& d) { return d.name == name; });
    if (!known)
      return Error(fmt::format("measurement for {}: no such device in {} (nor \"{}\")", name, catalog.file,
                               kThisMachine),
                   ErrorKind::invalid_argument)
          .about("measured");
  }
  Plan plan;
  plan.demand = workload_demand(workload, bench);
  plan.compute_efficiency = bench.tokens_per_s * ops_per_token(bench) / (bench.int8_gops * 1e9);
  plan.bandwidth_efficiency = bench.tokens_per_s * bytes_per_token(bench) / (bench.bandwidth_gbs * 1e9);
  const CostAssumptions& c = workload.costs;
  double tpd = plan.demand.tokens_per_document;

  auto add = [&](Option o, double price, double power, double cloud_rate, double p95_override) {
    size_and_cost(o, price, power, cloud_rate, plan.demand, workload, bench);
    if (p95_override > 0) {
      o.p95_ms = p95_override;
      o.latency_ok = workload.latency_slo_p95_ms <= 0 || o.p95_ms <= workload.latency_slo_p95_ms;
      o.feasible = o.fits && o.latency_ok && o.tokens_per_s > 0;
    }
    plan.options.push_back(std::move(o));
  };

  // The measured machine.
  {
    Throughput t{bench.tokens_per_s, true, fmt::format("sparq bench, {} threads", bench.threads)};
    double p95 = 0;
    if (auto it = measured.find(kThisMachine); it != measured.end()) apply_measurement(t, p95, it->second, tpd);
    const OwnedMachine& m = workload.this_machine;
    // No wattage given: about 10 W per hardware thread of a loaded server CPU, labelled as a guess.
    double power = m.power_estimated ? 10.0 * std::max(1, bench.cpu_threads) : m.power_w;
    std::string description = fmt::format("{} ({} threads, the bench machine)", bench.cpu_model, bench.cpu_threads);
    Option o = base_option(kThisMachine, description, DeviceKind::cpu,
                           m.price_usd > 0 ? Deployment::on_prem : Deployment::owned, t, bench.memory_bytes, bench, c);
    if (m.power_estimated) o.warnings.push_back(fmt::format("power {:.0f} W estimated (set this_machine.power_w)", power));
    if (m.price_usd <= 0 && bench.memory_bytes > 0) o.warnings.push_back("already owned: no purchase cost counted");
    add(o, m.price_usd, power, m.cloud_usd_per_hour, p95);
    if (m.cloud_usd_per_hour > 0) {
      Option cloud = base_option(std::string(kThisMachine) + "-cloud", description + ", rented", DeviceKind::cpu,
                                 Deployment::cloud, t, bench.memory_bytes, bench, c);
      add(cloud, 0, 0, m.cloud_usd_per_hour, p95);
    }
  }
  for (const Device& dev : catalog.devices) {
    Throughput t = estimate(dev, bench, catalog);
    double p95 = 0;
    if (auto it = measured.find(dev.name); it != measured.end()) apply_measurement(t, p95, it->second, tpd);
    add(base_option(dev.name, dev.description, dev.kind, Deployment::on_prem, t, dev.memory_bytes, bench, c),
        dev.price_usd, dev.power_w, dev.cloud_usd_per_hour, p95);
    if (dev.cloud_usd_per_hour > 0)
      add(base_option(dev.name + "-cloud", dev.description + ", rented", dev.kind, Deployment::cloud, t,
                      dev.memory_bytes, bench, c),
          0, 0, dev.cloud_usd_per_hour, p95);
  }
  std::stable_sort(plan.options.begin(), plan.options.end(), [](const Option& a, const Option& b) {
    if (a.feasible != b.feasible) return a.feasible;
    return a.usd_per_million_documents < b.usd_per_million_documents;
  });
  plan.verdict = make_verdict(plan, eval, workload, bench);
  return plan;
}

nlohmann::json to_json(const Plan& plan, const BenchReport& bench, const Workload& workload) {
  using nlohmann::json;
  auto finite_or_null = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  json options = json::array();
  for (const Option& o : plan.options) {
    options.push_back({
        {"name", o.name}, {"description", o.description}, {"kind", device_kind_name(o.kind)},
        {"deployment", deployment_name(o.deployment)},
        {"throughput", {{"tokens_per_s", o.tokens_per_s}, {"documents_per_s", o.documents_per_s},
                        {"label", o.throughput_measured ? "measured" : "estimated"}, {"basis", o.throughput_basis}}},
        {"latency_p95_ms", {{"value", o.p95_ms}, {"label", o.throughput_measured ? "measured" : "estimated"},
                            {"meets_objective", o.latency_ok}}},
        {"memory", {{"needed_bytes", o.memory_needed_bytes}, {"device_bytes", o.memory_bytes}, {"fits", o.fits}}},
        {"units_for_peak", o.units_for_peak}, {"units", o.units}, {"power_w", o.power_w},
        {"usd_per_month", o.usd_per_month},
        {"usd_per_million_documents", finite_or_null(o.usd_per_million_documents)},
        {"usd_per_million_tokens", finite_or_null(o.usd_per_million_tokens)},
        {"tco_usd", {{"3_years", o.tco_3y}, {"5_years", o.tco_5y}}},
        {"break_even_hours_per_year",
         o.break_even_hours_per_year ? finite_or_null(*o.break_even_hours_per_year) : json(nullptr)},
        {"feasible", o.feasible}, {"warnings", o.warnings},
    });
  }
  const Verdict& v = plan.verdict;
  const CostAssumptions& c = workload.costs;
  return {
      {"version", 1},
      {"model", {{"name", bench.model_name}, {"bytes", bench.model_bytes}, {"parameters", bench.parameters},
                 {"kind", bench.kind == ModelKind::decoder ? "decoder" : "encoder"}}},
      {"measured_machine", {{"cpu", bench.cpu_model}, {"threads", bench.cpu_threads},
                            {"tokens_per_s", bench.tokens_per_s}, {"bandwidth_gbs", bench.bandwidth_gbs},
                            {"int8_gops", bench.int8_gops}, {"compute_efficiency", plan.compute_efficiency},
                            {"bandwidth_efficiency", plan.bandwidth_efficiency}}},
      {"workload", {{"name", workload.name}, {"documents_per_month", plan.demand.documents_per_month},
                    {"tokens_per_month", plan.demand.tokens_per_month},
                    {"tokens_per_document", plan.demand.tokens_per_document},
                    {"average_tokens_per_s", plan.demand.average_tokens_per_s},
                    {"peak_tokens_per_s", plan.demand.peak_tokens_per_s}, {"hours_per_day", workload.hours_per_day},
                    {"latency_slo_p95_ms", workload.latency_slo_p95_ms}, {"redundancy", workload.redundancy}}},
      {"assumptions", {{"electricity_usd_per_kwh", c.energy.usd_per_kwh}, {"pue", c.energy.pue},
                       {"years", c.years}, {"utilisation", c.utilisation},
                       {"maintenance_usd_per_year", c.maintenance_usd_per_year},
                       {"rack_usd_per_year", c.rack_usd_per_year}, {"egress_gb_per_month", c.egress_gb_per_month},
                       {"egress_usd_per_gb", c.egress_usd_per_gb}, {"memory_headroom", c.memory_headroom}}},
      {"options", options},
      {"verdict", {{"quality_ok", v.quality_ok ? json(*v.quality_ok) : json(nullptr)},
                   {"cpu_only_ok", v.cpu_only_ok},
                   {"cheapest", v.cheapest.empty() ? json(nullptr) : json(v.cheapest)},
                   {"cheapest_cpu", v.cheapest_cpu.empty() ? json(nullptr) : json(v.cheapest_cpu)},
                   {"summary", v.summary}, {"reasons", v.reasons}, {"warnings", v.warnings}}},
  };
}

}  // namespace sparq::runtime::planner
