#include "runtime/plan/inputs.h"

#include <fmt/core.h>

#include <cmath>

#include "formats/document.h"

namespace sparq::runtime::planner {

using formats::Fields;
using formats::FirstError;
using formats::load_document;
using formats::top_level;
namespace {

Result<Fields> open_top_level(const std::string& path, nlohmann::json& holder) {
  Result<nlohmann::json> doc = load_document(path);
  if (!doc) return doc.error();
  holder = std::move(doc).value();
  return top_level(holder, path);
}

Result<double> positive(const Fields& f, const std::string& key, Result<double> v) {
  if (v && *v <= 0) return f.error(key, "must be > 0");
  return v;
}

Result<double> whole(const Fields& f, const std::string& key, Result<double> v) {
  if (v && *v != std::floor(*v)) return f.error(key, fmt::format("must be a whole number, got {}", *v));
  return v;
}

Result<double> fraction(const Fields& f, const std::string& key, Result<double> v) {
  if (v && *v > 1) return f.error(key, fmt::format("must be a fraction in [0, 1], got {}", *v));
  return v;
}

}  // namespace

Result<BenchReport> load_bench(const std::string& path) {
  nlohmann::json doc;
  Result<Fields> top = open_top_level(path, doc);
  if (!top) return top.error();
  FirstError first;
  BenchReport b;
  b.file = path;
  Fields model = first.get(top->object("model"));
  b.model_name = first.get(model.text("name"));
  b.model_format = first.get(model.text_or("format", ""));
  b.model_bytes = first.get(positive(model, "bytes", model.number("bytes")));
  b.parameters = first.get(positive(model, "parameters", model.number("parameters")));
  std::string kind = first.get(model.text("kind"));
  if (kind == "decoder") {
    b.kind = ModelKind::decoder;
  } else if (kind != "encoder" && !first.error) {
    first.error = model.error("kind", fmt::format("must be \"encoder\" or \"decoder\", got \"{}\"", kind));
  }
  b.threads = static_cast<int>(first.get(positive(*top, "threads", top->number("threads"))));
  b.batch = first.get(positive(*top, "batch", top->number_or("batch", 1)));
  b.seq_len = first.get(top->number_or("seq_len", 0));
  b.avg_tokens_per_document = first.get(positive(
      *top, "avg_tokens_per_document", top->number("avg_tokens_per_document")));
  b.activation_bytes = first.get(top->number_or("activation_bytes", 0));
  b.documents_per_s = first.get(top->number_or("documents_per_s", 0));
  b.tokens_per_s = first.get(top->number_or("tokens_per_s", 0));
  if (!first.error && b.documents_per_s <= 0 && b.tokens_per_s <= 0)
    first.error = top->error("documents_per_s", "missing: give documents_per_s or tokens_per_s (> 0)");
  // One rate implies the other through the average document length.
  if (b.tokens_per_s <= 0) b.tokens_per_s = b.documents_per_s * b.avg_tokens_per_document;
  if (b.documents_per_s <= 0 && b.avg_tokens_per_document > 0)
    b.documents_per_s = b.tokens_per_s / b.avg_tokens_per_document;
  Fields latency = first.get(top->object("latency_ms"));
  b.p50_ms = first.get(latency.number("p50"));
  b.p95_ms = first.get(latency.number("p95"));
  b.p99_ms = first.get(latency.number("p99"));

  Fields hw = first.get(top->object("hwinfo"));
  Fields cpu = first.get(hw.object("cpu"));
  b.cpu_model = first.get(cpu.text("model"));
  b.cpu_threads = static_cast<int>(first.get(cpu.number("threads")));
  if (hw.has("numa") && hw.json().at("numa").is_array())
    for (const nlohmann::json& node : hw.json().at("numa"))
      if (node.is_object() && node.contains("memory_bytes") && node.at("memory_bytes").is_number())
        b.memory_bytes += node.at("memory_bytes").get<double>();
  if (!first.error && !hw.has("measured"))
    first.error = hw.error("measured", "missing or null: the bench must measure bandwidth and peaks "
                                       "(it was made with the hardware measurement turned off)");
  Fields measured = first.get(hw.object("measured"));
  b.bandwidth_gbs = first.get(positive(measured, "bandwidth_gbs.all_threads",
                                       first.get(measured.object("bandwidth_gbs")).number("all_threads")));
  b.int8_gops = first.get(positive(measured, "int8_gops.all_threads",
                                   first.get(measured.object("int8_gops")).number("all_threads")));
  if (first.error) return *first.error;
  return b;
}

Result<EvalReport> load_eval(const std::string& path) {
  nlohmann::json doc;
  Result<Fields> top = open_top_level(path, doc);
  if (!top) return top.error();
  FirstError first;
  EvalReport e;
  e.file = path;
  e.accuracy = first.get(fraction(*top, "accuracy", top->number("accuracy")));
  e.macro_f1 = first.get(fraction(*top, "macro_f1", top->number("macro_f1")));
  // `sparq eval` without --floor writes "floor": null: quality measured, no floor to clear.
  if (top->has("floor") && !top->json().at("floor").is_null()) {
    Fields floor = first.get(top->object("floor"));
    e.floor_metric = first.get(floor.text("metric"));
    e.floor_value = first.get(floor.number("value"));
    e.floor_measured = first.get(floor.number_or("measured", -1));
    if (!first.error) {
      const nlohmann::json& passed = floor.json().contains("passed") ? floor.json().at("passed") : nullptr;
      if (!passed.is_boolean()) return floor.error("passed", "missing (true or false is required)");
      e.floor_passed = passed.get<bool>();
    }
  }
  if (first.error) return *first.error;
  return e;
}

// Every number of a workload is bounded by what could be a real deployment: a value past
// these is a typo or a unit mix-up, and past some of them the unit counts overflow.
Result<Workload> load_workload(const std::string& path) {
  nlohmann::json doc;
  Result<Fields> top = open_top_level(path, doc);
  if (!top) return top.error();
  const Fields& w = *top;
  if (Status s = w.only_keys({"name", "documents_per_day", "tokens_per_month", "avg_tokens_per_document",
                              "hours_per_day", "peak_to_average", "latency_slo_p95_ms", "growth_per_year",
                              "redundancy", "costs", "this_machine"});
      !s) {
    return s.error();
  }
  FirstError first;
  Workload out;
  out.file = path;
  out.name = first.get(w.text_or("name", "workload"));
  out.documents_per_day = first.get(w.number_in("documents_per_day", 0, 1e12, 0));
  out.tokens_per_month = first.get(w.number_in("tokens_per_month", 0, 1e16, 0));
  if (!first.error && out.documents_per_day <= 0 && out.tokens_per_month <= 0)
    first.error = w.error("documents_per_day", "missing: give documents_per_day or tokens_per_month (> 0)");
  out.avg_tokens_per_document = first.get(w.number_in("avg_tokens_per_document", 0, 1e7, 0));
  out.hours_per_day = first.get(positive(w, "hours_per_day", w.number_in("hours_per_day", 0, 24, 24)));
  out.peak_to_average = first.get(w.number_or("peak_to_average", 1));
  if (!first.error && out.peak_to_average < 1) first.error = w.error("peak_to_average", "must be >= 1");
  if (!first.error) out.peak_to_average = first.get(w.number_in("peak_to_average", 1, 1000, 1));
  out.latency_slo_p95_ms = first.get(w.number_in("latency_slo_p95_ms", 0, 1e7, 0));
  out.growth_per_year = first.get(w.number_in("growth_per_year", 0, 100, 0));
  out.redundancy = static_cast<int>(first.get(whole(w, "redundancy", w.number_in("redundancy", 0, 1000, 0))));

  static const nlohmann::json empty = nlohmann::json::object();
  Fields costs = w.has("costs") ? first.get(w.object("costs")) : Fields(empty, path, "costs");
  if (Status s = costs.only_keys({"electricity_usd_per_kwh", "pue", "years", "utilisation", "maintenance_usd_per_year",
                                  "rack_usd_per_year", "egress_gb_per_month", "egress_usd_per_gb", "memory_headroom",
                                  "runtime_overhead", "cloud_min_instances"});
      !s && !first.error) {
    first.error = s.error();
  }
  CostAssumptions& c = out.costs;
  c.energy.usd_per_kwh = first.get(costs.number_in("electricity_usd_per_kwh", 0, 10, c.energy.usd_per_kwh));
  c.energy.pue = first.get(costs.number_or("pue", c.energy.pue));
  if (!first.error && c.energy.pue < 1) first.error = costs.error("pue", "must be >= 1");
  if (!first.error) c.energy.pue = first.get(costs.number_in("pue", 1, 5, c.energy.pue));
  c.years = first.get(positive(costs, "years", costs.number_in("years", 0, 30, c.years)));
  c.utilisation = first.get(fraction(costs, "utilisation",
                                     positive(costs, "utilisation", costs.number_or("utilisation", c.utilisation))));
  c.maintenance_usd_per_year = first.get(costs.number_in("maintenance_usd_per_year", 0, 1e8, c.maintenance_usd_per_year));
  c.rack_usd_per_year = first.get(costs.number_in("rack_usd_per_year", 0, 1e8, c.rack_usd_per_year));
  c.egress_gb_per_month = first.get(costs.number_in("egress_gb_per_month", 0, 1e10, c.egress_gb_per_month));
  c.egress_usd_per_gb = first.get(costs.number_in("egress_usd_per_gb", 0, 100, c.egress_usd_per_gb));
  c.memory_headroom = first.get(fraction(costs, "memory_headroom",
                                         positive(costs, "memory_headroom",
                                                  costs.number_or("memory_headroom", c.memory_headroom))));
  c.runtime_overhead = first.get(costs.number_in("runtime_overhead", 0, 100, c.runtime_overhead));
  c.cloud_min_instances =
      first.get(whole(costs, "cloud_min_instances", costs.number_in("cloud_min_instances", 0, 1e6, c.cloud_min_instances)));

  Fields machine = w.has("this_machine") ? first.get(w.object("this_machine"))
                                         : Fields(empty, path, "this_machine");
  if (Status s = machine.only_keys({"price_usd", "power_w", "cloud_usd_per_hour"}); !s && !first.error) {
    first.error = s.error();
  }
  out.this_machine.price_usd = first.get(machine.number_in("price_usd", 0, 1e9, 0));
  out.this_machine.power_estimated = !machine.has("power_w");
  out.this_machine.power_w = first.get(machine.number_in("power_w", 0, 1e6, 0));
  out.this_machine.cloud_usd_per_hour = first.get(machine.number_in("cloud_usd_per_hour", 0, 1e5, 0));
  if (first.error) return *first.error;
  return out;
}

}  // namespace sparq::runtime::planner
