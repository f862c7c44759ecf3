#include "runtime/plan/html_report.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/plan/economics.h"

namespace sparq::runtime::planner {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string money(double usd) {
  if (!std::isfinite(usd)) return "-";
  if (usd >= 1000) return fmt::format("${:.0f}", usd);
  if (usd >= 1) return fmt::format("${:.2f}", usd);
  return fmt::format("${:.4f}", usd);
}

// Maps [lo, hi] on a log10 scale to [0, length].
struct LogScale {
  double lo, hi, length;
  double operator()(double v) const {
    v = std::clamp(v, lo, hi);
    return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) * length;
  }
  std::vector<double> decades() const {
    std::vector<double> d;
    for (double p = std::floor(std::log10(lo)); p <= std::ceil(std::log10(hi)); ++p)
      if (std::pow(10, p) >= lo * 0.999 && std::pow(10, p) <= hi * 1.001) d.push_back(std::pow(10, p));
    return d;
  }
};

LogScale log_scale(const std::vector<double>& values, double length) {
  double lo = 1e300, hi = 0;
  for (double v : values)
    if (v > 0 && std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (hi <= 0) lo = 1, hi = 10;
  return {std::pow(10, std::floor(std::log10(lo))), std::pow(10, std::ceil(std::log10(hi * 1.0001))), length};
}

const char* colour(const Option& o) {
  if (!o.feasible) return "#b8b8b8";
  switch (o.kind) {
    case DeviceKind::cpu: return "#2b7bb9";
    case DeviceKind::gpu: return "#3c9d4e";
    case DeviceKind::npu: return "#d08a1f";
  }
  return "#888";
}

// "1M documents" or "1M generated tokens": what the plan's headline cost is quoted per.
std::string per_million(const Nouns& n) { return "1M " + (n.quote_per_token ? n.tokens : n.request + "s"); }

std::string cost_chart(const Plan& plan) {
  const int label_w = 190, plot_w = 560, bar_h = 16, top = 30;
  std::vector<double> costs;
  for (const Option& o : plan.options) costs.push_back(o.headline_usd(plan.nouns));
  LogScale x = log_scale(costs, plot_w);
  int height = top + static_cast<int>(plan.options.size()) * (bar_h + 4) + 30;
  std::string svg = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" aria-label="cost per {} by option">)",
                                label_w + plot_w + 90, height, per_million(plan.nouns));
  svg += fmt::format(R"(<text x="0" y="16" class="t">Cost per {} (log scale); grey = does not meet the floors</text>)",
                     per_million(plan.nouns));
  for (double d : x.decades())
    svg += fmt::format(R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" class="grid"/><text x="{0:.1f}" y="{3}" class="ax" text-anchor="middle">{4}</text>)",
                       label_w + x(d), top - 4, height - 24, height - 10, money(d));
  int y = top;
  for (const Option& o : plan.options) {
    double w = std::max(1.0, x(o.headline_usd(plan.nouns)));
    svg += fmt::format(R"(<text x="{}" y="{}" class="lb" text-anchor="end">{}</text><rect x="{}" y="{}" width="{:.1f}" height="{}" fill="{}"/><text x="{:.1f}" y="{}" class="ax">{}</text>)",
                       label_w - 6, y + bar_h - 4, escape(o.name), label_w, y, w, bar_h, colour(o),
                       label_w + w + 4, y + bar_h - 4, money(o.headline_usd(plan.nouns)));
    y += bar_h + 4;
  }
  return svg + "</svg>";
}

std::string scatter_chart(const Plan& plan) {
  const int left = 70, bottom = 50, w = 700, h = 380;
  std::vector<double> tput, cost;
  for (const Option& o : plan.options) tput.push_back(o.tokens_per_s), cost.push_back(o.usd_per_month);
  LogScale x = log_scale(tput, w), y = log_scale(cost, h);
  std::string svg = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" aria-label="throughput against cost">)",
                                left + w + 120, h + bottom + 30);
  svg += fmt::format(R"(<text x="0" y="16" class="t">Throughput per unit ({}/s) against total monthly cost; hollow = estimated</text>)",
                     plan.nouns.tokens);
  int y0 = 30;
  for (double d : x.decades())
    svg += fmt::format(R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" class="grid"/><text x="{0:.1f}" y="{3}" class="ax" text-anchor="middle">{4:g}</text>)",
                       left + x(d), y0, y0 + h, y0 + h + 16, d);
  for (double d : y.decades())
    svg += fmt::format(R"(<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" class="grid"/><text x="{3}" y="{4:.1f}" class="ax" text-anchor="end">{5}</text>)",
                       left, left + w, y0 + h - y(d), left - 4, y0 + h - y(d) + 4, money(d));
  svg += fmt::format(R"(<text x="{}" y="{}" class="ax" text-anchor="middle">{}/s per unit</text>)", left + w / 2, y0 + h + 40,
                     plan.nouns.tokens);
  for (const Option& o : plan.options) {
    if (o.deployment == Deployment::cloud) continue;  // same throughput as its on-prem twin
    double cx = left + x(o.tokens_per_s), cy = y0 + h - y(o.usd_per_month);
    svg += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="5" fill="{}" stroke="{}" stroke-width="2"/><text x="{:.1f}" y="{:.1f}" class="pt">{}</text>)",
                       cx, cy, o.throughput_measured ? colour(o) : "white", colour(o), cx + 7, cy - 5, escape(o.name));
  }
  return svg + "</svg>";
}

// Yearly cost of one unit against hours of use, owned (fixed + energy per hour) and rented.
std::string break_even_chart(const Plan& plan, const Workload& w, const Catalog& catalog) {
  const Device* dev = nullptr;
  for (const Option& o : plan.options)  // the best-ranked device that can also be rented
    for (const Device& d : catalog.devices)
      if (!dev && d.name == o.name && d.cloud_usd_per_hour > 0) dev = &d;
  if (!dev) return "<p>No catalog device has a cloud rate, so there is no break-even curve.</p>";
  const CostAssumptions& c = w.costs;
  double fixed = dev->price_usd / c.years + c.maintenance_usd_per_year + c.rack_usd_per_year;
  auto owned = [&](double hours) { return fixed + energy_cost(dev->power_w, hours, c.energy); };
  auto rented = [&](double hours) { return dev->cloud_usd_per_hour * hours; };
  const int left = 80, w_px = 700, h = 320, y0 = 30;
  double ymax = std::max(owned(kHoursPerYear), rented(kHoursPerYear)) * 1.05;
  auto px = [&](double hours) { return left + hours / kHoursPerYear * w_px; };
  auto py = [&](double usd) { return y0 + h - usd / ymax * h; };
  std::string svg = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" aria-label="break-even curve">)",
                                left + w_px + 40, h + 90);
  svg += fmt::format(R"(<text x="0" y="16" class="t">{}: yearly cost of owning one (amortised over {:g} years) vs renting at ${:.2f}/h</text>)",
                     escape(dev->name), c.years, dev->cloud_usd_per_hour);
  for (int i = 0; i <= 4; ++i) {
    double usd = ymax * i / 4, hours = kHoursPerYear * i / 4;
    svg += fmt::format(R"(<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" class="grid"/><text x="{3}" y="{4:.1f}" class="ax" text-anchor="end">{5}</text>)",
                       left, left + w_px, py(usd), left - 4, py(usd) + 4, money(usd));
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" class="ax" text-anchor="middle">{:.0f} h</text>)", px(hours), y0 + h + 16, hours);
  }
  svg += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#2b7bb9" stroke-width="3"/>)",
                     px(0), py(owned(0)), px(kHoursPerYear), py(owned(kHoursPerYear)));
  svg += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#c0392b" stroke-width="3"/>)",
                     px(0), py(0), px(kHoursPerYear), py(rented(kHoursPerYear)));
  double be = break_even_hours_per_year(dev->price_usd, dev->power_w, c.maintenance_usd_per_year + c.rack_usd_per_year,
                                        c.years, dev->cloud_usd_per_hour, c.energy);
  if (be <= kHoursPerYear)
    svg += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="6" fill="black"/><text x="{:.1f}" y="{:.1f}" class="lb">break-even {:.0f} h/year</text>)",
                       px(be), py(rented(be)), px(be) + 10, py(rented(be)) + 18, be);
  double use = w.hours_per_day * 365;
  svg += fmt::format(R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" stroke="#555" stroke-dasharray="5,4"/><text x="{0:.1f}" y="{3}" class="ax" text-anchor="middle">this workload: {4:.0f} h/year</text>)",
                     px(use), y0, y0 + h, y0 + h + 34, use);
  svg += fmt::format(R"(<rect x="{0}" y="{1}" width="14" height="4" fill="#2b7bb9"/><text x="{2}" y="{3}" class="lb">own</text><rect x="{0}" y="{4}" width="14" height="4" fill="#c0392b"/><text x="{2}" y="{5}" class="lb">rent</text>)",
                     left + 10, y0 + 8, left + 30, y0 + 13, y0 + 26, y0 + 31);
  return svg + "</svg>";
}

std::string list(const std::vector<std::string>& items) {
  std::string out = "<ul>";
  for (const std::string& s : items) out += "<li>" + escape(s) + "</li>";
  return out + "</ul>";
}

}  // namespace

std::string html_report(const Plan& plan, const BenchReport& bench, const Workload& workload,
                        const Catalog& catalog) {
  const Verdict& v = plan.verdict;
  std::string html = R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sparq plan</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.verdict{background:#f3f7fb;border-left:5px solid #2b7bb9;padding:10px 16px}
.bad{border-left-color:#c0392b;background:#fbf3f3}
table{border-collapse:collapse;font-size:12px}td,th{padding:3px 7px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child,td.l{text-align:left}tr.no td{color:#999}
.t{font-size:13px;font-weight:600}.ax{font-size:11px;fill:#555}.lb{font-size:12px}.pt{font-size:10px}
.grid{stroke:#e3e3e3}.est{color:#a05a00}
</style></head><body>
)";
  const Nouns& n = plan.nouns;
  const Demand& d = plan.demand;
  html += fmt::format("<h1>Deployment plan: {} for {}</h1>\n", escape(bench.model_name), escape(workload.name));
  std::string measured;
  for (size_t i = 0; i < bench.phases.size(); ++i) {
    const Phase& p = bench.phases[i];
    const PhaseEfficiency& e = plan.efficiency[i];
    measured += fmt::format("{}{} {:.0f} tokens/s ({:.0f}% of the measured {}), {} {:.1f} ms", i ? "; " : "", p.name,
                            p.tokens_per_s, e.roofline_share * 100, e.compute_bound ? "int8 peak" : "memory bandwidth",
                            p.latency_label, p.p95_ms);
  }
  std::string shape = plan.kind == ModelKind::decoder
                          ? fmt::format("{:.0f} prompt + {:.0f} generated tokens each", d.input_tokens, d.generated_tokens)
                          : fmt::format("{:.0f} tokens each", d.input_tokens);
  html += fmt::format(
      "<p>Measured on {} ({} threads, batch {:g}): {} (dense-equivalent work). Workload: {:.0f} {}s/month of {}, "
      "{:.1f} {}/s average and {:.1f} {}/s planned peak over {:g} h/day.</p>\n",
      escape(bench.cpu_model), bench.cpu_threads, bench.batch, escape(measured), d.requests_per_month, n.request,
      shape, d.average_tokens_per_s, n.tokens, d.peak_tokens_per_s, n.tokens, workload.hours_per_day);
  bool bad = v.cheapest.empty() || (v.quality_ok && !*v.quality_ok);
  html += fmt::format("<div class=\"verdict{}\"><p><b>{}</b></p>{}", bad ? " bad" : "", escape(v.summary), list(v.reasons));
  if (!v.warnings.empty()) html += "<p>Warnings:</p>" + list(v.warnings);
  html += "</div>\n<h2>Cost per " + per_million(n) + "</h2>\n" + cost_chart(plan);
  html += "\n<h2>Throughput against cost</h2>\n" + scatter_chart(plan);
  html += "\n<h2>Own or rent: break-even</h2>\n" + break_even_chart(plan, workload, catalog);
  html += "\n<h2>Options, ranked by cost per " + per_million(n) + "</h2>\n<table><tr><th>option</th><th>kind</th>"
          "<th>deployment</th><th>" + n.tokens + "/s per unit</th>";
  for (const Phase& p : bench.phases) html += "<th>" + p.latency_label + " ms</th>";
  html += "<th>units</th><th>$/month</th><th>$/1M " + n.request + "s</th><th>$/1M " + n.tokens +
          "</th><th>TCO 3y</th><th>TCO 5y</th><th>break-even h/yr</th><th>power W</th><th class=\"l\">notes</th></tr>\n";
  for (const Option& o : plan.options) {
    std::string notes;
    for (const std::string& w : o.warnings) notes += (notes.empty() ? "" : "; ") + w;
    std::string latencies;
    for (const PhaseEstimate& p : o.phases) latencies += fmt::format("<td>{:.1f}</td>", p.p95_ms);
    html += fmt::format(
        "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{:.0f}{}</td>{}<td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0f}</td><td class=\"l\">{}</td></tr>\n",
        o.feasible ? "" : " class=\"no\"", escape(o.name), device_kind_name(o.kind), deployment_name(o.deployment),
        o.tokens_per_s, o.throughput_measured ? "" : " <span class=\"est\">(est.)</span>", latencies, o.units,
        money(o.usd_per_month), money(o.usd_per_million_requests), money(o.usd_per_million_tokens),
        money(o.tco_3y), money(o.tco_5y),
        o.break_even_hours_per_year && std::isfinite(*o.break_even_hours_per_year)
            ? fmt::format("{:.0f}", *o.break_even_hours_per_year) : "-",
        o.power_w, escape(notes));
  }
  html += "</table>\n";
  const CostAssumptions& c = workload.costs;
  html += fmt::format(
      "\n<h2>Assumptions</h2>\n<p>Electricity ${}/kWh, PUE {}, amortisation {:g} years, planned utilisation {:.0f}%, "
      "maintenance ${:.0f}/year and rack ${:.0f}/year per unit, egress {:g} GB/month at ${}/GB, memory headroom "
      "{:.0f}%. GPU estimates use {:.0f}% of int8 peak / {:.0f}% of bandwidth, NPU {:.0f}% / {:.0f}%. Catalog: {}.</p>\n",
      c.energy.usd_per_kwh, c.energy.pue, c.years, c.utilisation * 100, c.maintenance_usd_per_year, c.rack_usd_per_year,
      c.egress_gb_per_month, c.egress_usd_per_gb, c.memory_headroom * 100, catalog.gpu.compute * 100,
      catalog.gpu.bandwidth * 100, catalog.npu.compute * 100, catalog.npu.bandwidth * 100, escape(catalog.file));
  return html + "</body></html>\n";
}

}  // namespace sparq::runtime::planner
