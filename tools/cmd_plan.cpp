// sparq plan: from the measured throughput and quality of the user's model on this CPU, a
// workload and a hardware catalog, the cost of every CPU/GPU/NPU option (on-prem or
// rented) ranked by cost per million documents or generated tokens, and a verdict in plain words.
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

// 1234567 -> "1,234,567": the table's figures read as the report's.
std::string thousands(double v) {
  std::string digits = fmt::format("{:.0f}", v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && digits[i - 1] != '-' && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string money(double usd) {
  if (!std::isfinite(usd)) return "-";
  return usd >= 100 ? "$" + thousands(usd) : usd >= 1 ? fmt::format("${:.2f}", usd) : fmt::format("${:.4f}", usd);
}

// Estimated figures end in "~" in every column they reach; the measured row has none.
void print_plan(const planner::Plan& plan, const planner::BenchReport& bench, const planner::Workload& w) {
  const planner::Nouns& n = plan.nouns;
  const planner::Demand& d = plan.demand;
  std::string measured;
  for (const planner::Phase& p : bench.phases)
    measured += fmt::format("{}{} {:.0f} tokens/s{}, {} {:.1f} ms", measured.empty() ? "" : "; ", p.name, p.tokens_per_s,
                            p.tokens_per_s_max > 0 ? fmt::format(" (median of {} runs, {:.0f}-{:.0f})", bench.repeats,
                                                                 p.tokens_per_s_min, p.tokens_per_s_max)
                                                   : "",
                            p.latency_label, p.p95_ms);
  fmt::print("Measured: {} on {} ({} threads, batch {:g}): {}\n", bench.model_name, bench.cpu_model, bench.threads,
             bench.batch, measured);
  std::string shape =
      plan.kind == planner::ModelKind::decoder
          ? fmt::format(" of {:.0f} prompt + {:.0f} generated tokens", d.input_tokens, d.generated_tokens)
          : fmt::format(" of {:.0f} tokens", d.input_tokens);
  fmt::print("Workload: {}: {:.0f} {}s/month{}, peak {:.1f} {}/s planned ({} h/day, x{:g} peak, "
             "{:.0f}%/year growth, N+{}{})\n\n",
             w.name, d.requests_per_month, n.request, shape, d.peak_tokens_per_s, n.tokens, w.hours_per_day,
             w.peak_to_average, w.growth_per_year * 100, w.redundancy,
             d.peak_concurrent_users > 0 ? fmt::format(", {:.0f} concurrent users", d.peak_concurrent_users) : "");
  using A = TextTable::Align;
  std::string per = n.quote_per_token ? n.tokens_short : n.requests_short;
  std::vector<std::string> headers = {"option", "kind", "deploy", n.tokens_short + "/s/unit", "", "batch"};
  for (const planner::Phase& p : bench.phases) headers.push_back(p.latency_label + " ms");
  headers.insert(headers.end(), {"units", "unit price", "$/month", "$/1M " + n.requests_short, "$/1M " + n.tokens_short,
                                 "marginal $/1M " + per, "TCO 3y", "TCO 5y", "break-even h/y"});
  // A decoder's weights plus KV cache at the planned context and streams can outgrow a
  // device: show what is left of its usable memory (the headroom rule applied).
  const bool show_memory = plan.kind == planner::ModelKind::decoder;
  if (show_memory) headers.push_back("memory left");
  headers.push_back("ok");
  std::vector<A> align(headers.size(), A::right);
  align[0] = align[1] = align[2] = align[4] = align.back() = A::left;
  TextTable table(headers, align);
  for (const planner::Option& o : plan.options) {
    std::string est = o.throughput_measured ? "" : "~";
    std::string why = o.feasible ? "yes" : !o.fits ? "no: memory" : !o.latency_ok ? "no: latency" : "no: unpriced";
    std::string batches;
    for (const planner::PhaseEstimate& p : o.phases) batches += (batches.empty() ? "" : "/") + std::to_string(p.batch);
    std::vector<std::string> row = {o.name, planner::device_kind_name(o.kind), planner::deployment_name(o.deployment),
                                    thousands(o.tokens_per_s) + est,
                                    o.throughput_measured ? "measured" : "estimated", batches};
    for (const planner::PhaseEstimate& p : o.phases) row.push_back(fmt::format("{:.1f}{}", p.p95_ms, p.measured ? "" : "~"));
    std::string units = std::to_string(o.units);
    if (o.owned_units > 0) units += fmt::format(" ({} owned)", o.owned_units);
    if (o.deployment == planner::Deployment::cloud) units += fmt::format(" ({:.1f} billed)", o.billed_units);
    std::string price = o.deployment == planner::Deployment::cloud ? "rented"
                        : o.host_price_usd > 0 ? money(o.card_price_usd) + "+" + money(o.host_price_usd)
                                               : money(o.card_price_usd);
    row.insert(row.end(), {units, price, money(o.usd_per_month) + est, money(o.usd_per_million_requests) + est,
                           money(o.usd_per_million_tokens) + est,
                           money(n.quote_per_token ? o.marginal_usd_per_million_tokens
                                                   : o.marginal_usd_per_million_requests) + est,
                           money(o.tco_3y) + est, money(o.tco_5y) + est,
                           o.break_even_hours_per_year && std::isfinite(*o.break_even_hours_per_year)
                               ? thousands(*o.break_even_hours_per_year) : "-"});
    if (show_memory)
      row.push_back(o.memory_bytes > 0 ? fmt::format("{:.1f} GB{}", planner::memory_left_bytes(o, w.costs) / 1e9,
                                                     o.unified_memory ? " shared" : "")
                                       : "-");
    row.push_back(why);
    table.add_row(row);
  }
  fmt::print("{}\n", table.render());
  fmt::print("~ = estimated from the measurement, the catalog and the assumptions (`--html` lists them all)\n");
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
      "workload (documents for an encoder, generation requests for a decoder), cost every CPU/GPU/NPU option of "
      "the catalog, on-prem and rented, and say which is cheapest.");
  c.app->add_option("--bench", options->bench, "`sparq bench --json` report of the model on this machine")
      ->required();
  c.app->add_option("--eval", options->eval, "`sparq eval --json` report (quality and floor verdict)");
  c.app->add_option("--workload", options->workload,
                    "Workload and cost assumptions (YAML or JSON; models/example-workload.yaml for an encoder, "
                    "models/example-llm-workload.yaml for a decoder)")
      ->required();
  c.app->add_option("--catalog", options->catalog, "Hardware catalog (default: the shipped one)");
  c.app->add_option("--measured", options->measured,
                    "Your own measurement of a device, always preferred to estimates: "
                    "NAME:tokens_per_s=X[,p95_ms=Y] or NAME:documents_per_s=X (encoders), "
                    "NAME:prefill_tokens_per_s=X,decode_tokens_per_s=Y[,ttft_p95_ms=Z,token_latency_p95_ms=W] "
                    "(decoders), or NAME:bench=FILE (a `sparq bench --json` report made on that device) "
                    "(repeatable; NAME this-machine for the bench machine)");
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
    if (planner::plan_misses_floors(*plan))
      return Error(plan->verdict.cheapest.empty() ? "no option meets the workload's floors"
                                                  : "the model misses the quality floor",
                   ErrorKind::below_floor);
    return {};
  };
  return c;
}

}  // namespace sparq::tools
