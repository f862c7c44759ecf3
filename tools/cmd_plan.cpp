// sparq plan: from the measured throughput and quality of the user's model on this CPU, a
// workload and a hardware catalog, the cost of every CPU/GPU/NPU option (on-prem or
// rented) ranked by cost per million documents, and a verdict in plain words.
#include <fmt/core.h>

#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "runtime/plan/catalog.h"
#include "runtime/plan/html_report.h"
#include "runtime/plan/inputs.h"
#include "runtime/plan/plan.h"
#include "tools/command.h"
#include "tools/table.h"

namespace sparq::tools {
namespace {

namespace planner = runtime::planner;

struct PlanOptions {
  std::string bench, eval, workload, catalog, html_out;
  std::vector<std::string> measured;
  bool json = false;
};

std::string money(double usd) {
  if (!std::isfinite(usd)) return "-";
  return usd >= 100 ? fmt::format("${:.0f}", usd) : usd >= 1 ? fmt::format("${:.2f}", usd) : fmt::format("${:.4f}", usd);
}

void print_plan(const planner::Plan& plan, const planner::BenchReport& bench, const planner::Workload& w) {
  fmt::print("Measured: {} on {} ({} threads): {:.0f} tokens/s, {:.1f} documents/s, p95 {:.1f} ms\n",
             bench.model_name, bench.cpu_model, bench.threads, bench.tokens_per_s, bench.documents_per_s,
             bench.p95_ms);
  fmt::print("Workload: {}: {:.0f} documents/month, peak {:.1f} tokens/s planned ({} h/day, x{:g} peak, "
             "{:.0f}%/year growth, N+{})\n\n",
             w.name, plan.demand.documents_per_month, plan.demand.peak_tokens_per_s, w.hours_per_day,
             w.peak_to_average, w.growth_per_year * 100, w.redundancy);
  using A = TextTable::Align;
  TextTable table({"option", "kind", "deploy", "tok/s/unit", "", "p95 ms", "units", "$/month", "$/1M docs",
                   "$/1M tok", "TCO 3y", "TCO 5y", "break-even h/y", "ok"},
                  {A::left, A::left, A::left, A::right, A::left, A::right, A::right, A::right, A::right,
                   A::right, A::right, A::right, A::right, A::left});
  for (const planner::Option& o : plan.options) {
    std::string why = o.feasible ? "yes" : !o.fits ? "no: memory" : !o.latency_ok ? "no: latency" : "no";
    table.add_row({o.name, planner::device_kind_name(o.kind), planner::deployment_name(o.deployment),
                   fmt::format("{:.0f}", o.tokens_per_s), o.throughput_measured ? "measured" : "estimated",
                   fmt::format("{:.1f}", o.p95_ms), fmt::format("{}", o.units), money(o.usd_per_month),
                   money(o.usd_per_million_documents), money(o.usd_per_million_tokens), money(o.tco_3y),
                   money(o.tco_5y),
                   o.break_even_hours_per_year && std::isfinite(*o.break_even_hours_per_year)
                       ? fmt::format("{:.0f}", *o.break_even_hours_per_year) : "-",
                   why});
  }
  fmt::print("{}\n", table.render());
  const planner::Verdict& v = plan.verdict;
  fmt::print("Verdict: {}\n", v.summary);
  for (const std::string& r : v.reasons) fmt::print("  - {}\n", r);
  if (!v.warnings.empty()) fmt::print("Warnings:\n");
  for (const std::string& r : v.warnings) fmt::print("  ! {}\n", r);
}

Status write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) return Error(fmt::format("{}: cannot write", path));
  return {};
}

}  // namespace

Command add_plan_command(CLI::App& parent) {
  auto options = std::make_shared<PlanOptions>();
  Command c;
  c.app = parent.add_subcommand(
      "plan",
      "Plan a deployment: from `sparq bench --json` (and `sparq eval --json`) of your model on this CPU and a "
      "workload, cost every CPU/GPU/NPU option of the catalog, on-prem and rented, and say which is cheapest.");
  c.app->add_option("--bench", options->bench, "`sparq bench --json` report of the model on this machine")
      ->required();
  c.app->add_option("--eval", options->eval, "`sparq eval --json` report (quality and floor verdict)");
  c.app->add_option("--workload", options->workload, "Workload and cost assumptions (YAML or JSON)")->required();
  c.app->add_option("--catalog", options->catalog, "Hardware catalog (default: the shipped one)");
  c.app->add_option("--measured", options->measured,
                    "Your own measurement of a device, always preferred to estimates: "
                    "NAME:tokens_per_s=X[,p95_ms=Y], NAME:documents_per_s=X, or NAME:bench=FILE (a `sparq "
                    "bench --json` report made on that device) (repeatable; NAME this-machine for the bench "
                    "machine)");
  add_json_flag(c.app, &options->json, "the plan");
  c.app->add_option("--html", options->html_out, "Write a self-contained HTML report to this file");
  c.run = [options]() -> Status {
    std::map<std::string, planner::Measurement> measured;
    for (const std::string& m : options->measured) {
      auto parsed = planner::parse_measurement(m);
      if (!parsed) return parsed.error();
      measured[parsed->first] = parsed->second;
    }
    Result<planner::BenchReport> bench = planner::load_bench(options->bench);
    if (!bench) return bench.error();
    std::optional<planner::EvalReport> eval;
    if (!options->eval.empty()) {
      Result<planner::EvalReport> e = planner::load_eval(options->eval);
      if (!e) return e.error();
      eval = *e;
    }
    Result<planner::Workload> workload = planner::load_workload(options->workload);
    if (!workload) return workload.error();
    std::string catalog_path = options->catalog;
    if (catalog_path.empty()) {
      Result<std::string> shipped = planner::default_catalog_path();
      if (!shipped) return Error(shipped.error().message() + "; give one with --catalog", shipped.error().kind());
      catalog_path = *shipped;
    }
    Result<planner::Catalog> catalog = planner::load_catalog(catalog_path);
    if (!catalog) return catalog.error();
    Result<planner::Plan> plan = planner::make_plan(*bench, eval, *workload, *catalog, measured);
    if (!plan) return plan.error();

    if (options->json) {
      fmt::print("{}\n", planner::to_json(*plan, *bench, *workload).dump(2));
    } else {
      print_plan(*plan, *bench, *workload);
    }
    if (!options->html_out.empty())
      if (Status s = write_file(options->html_out, planner::html_report(*plan, *bench, *workload, *catalog)); !s)
        return s;
    return {};
  };
  return c;
}

}  // namespace sparq::tools
