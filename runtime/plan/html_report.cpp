#include "runtime/plan/html_report.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
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

// 1234567.8 -> "1,234,568" (decimals 0) or "1,234,567.80" (decimals 2).
std::string with_commas(double v, int decimals = 0) {
  if (!std::isfinite(v)) return "-";
  std::string digits = fmt::format("{:.{}f}", std::abs(v), decimals);
  size_t point = digits.find('.');
  std::string whole = digits.substr(0, point), out;
  for (size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) out += ',';
    out += whole[i];
  }
  return (v < 0 ? "-" : "") + out + (point == std::string::npos ? "" : digits.substr(point));
}

std::string money(double usd) {
  if (!std::isfinite(usd)) return "-";
  if (usd >= 100) return "$" + with_commas(usd);
  if (usd >= 1) return fmt::format("${:.2f}", usd);
  if (usd >= 0.1) return fmt::format("${:.2f}", usd);
  if (usd >= 0.01) return fmt::format("${:.3f}", usd);
  return fmt::format("${:.2g}", usd);
}

// The report is read on other machines: a file is named by its name, not by where it lay on
// the machine that made the plan.
std::string file_name(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::string without_directories(std::string text, const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    if (path.find('/') == std::string::npos) continue;
    for (size_t at = text.find(path); at != std::string::npos; at = text.find(path, at))
      text.replace(at, path.size(), file_name(path));
  }
  return text;
}

// Maps [lo, hi] on a log10 scale to [0, length]; ticks at the powers of ten.
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

// A round step (1, 2 or 5 x 10^k) that cuts [0, span] into at most `ticks` intervals.
double round_step(double span, int ticks) {
  double raw = span / ticks, decade = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * decade >= raw) return m * decade;
  return 10 * decade;
}

const char* kind_colour(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::cpu: return "#2b7bb9";
    case DeviceKind::gpu: return "#3c9d4e";
    case DeviceKind::npu: return "#d08a1f";
  }
  return "#888";
}

const char* colour(const Option& o) { return o.feasible ? kind_colour(o.kind) : "#b8b8b8"; }

// Solid for measured figures, hatched in the same colour for estimates.
std::string fill(const Option& o) {
  if (o.throughput_measured) return colour(o);
  return fmt::format("url(#hatch-{})", o.feasible ? device_kind_name(o.kind) : "no");
}

// The hatch patterns every chart uses, defined once in the first.
std::string hatch_patterns() {
  std::string defs = "<defs>";
  for (auto [name, c] : {std::pair{"cpu", "#2b7bb9"}, {"gpu", "#3c9d4e"}, {"npu", "#d08a1f"}, {"no", "#b8b8b8"}})
    defs += fmt::format(R"svg(<pattern id="hatch-{}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="white"/><rect width="3" height="6" fill="{}"/></pattern>)svg",
                        name, c);
  return defs + "</defs>";
}

std::string svg_open(int width, int height, const std::string& label) {
  return fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {0} {1}" width="{0}" height="{1}" role="img" aria-label="{2}">)",
                     width, height, escape(label));
}

// "1M documents" or "1M generated tokens": what the plan's headline cost is quoted per.
std::string per_million(const Nouns& n) { return "1M " + (n.quote_per_token ? n.tokens : n.request + "s"); }

std::string legend() {
  std::string out = "<p class=\"legend\">";
  for (auto [name, c] : {std::pair{"CPU", "#2b7bb9"}, {"GPU", "#3c9d4e"}, {"NPU", "#d08a1f"}})
    out += fmt::format("<span class=\"key\" style=\"background:{}\"></span>{} ", c, name);
  return out + "<span class=\"key\" style=\"background:#b8b8b8\"></span>does not meet the floors &nbsp; "
               "<span class=\"key\" style=\"background:#2b7bb9\"></span>solid = measured &nbsp; "
               "<span class=\"key hatched\"></span>hatched or hollow = estimated</p>\n";
}

std::string cost_chart(const Plan& plan) {
  const int label_w = 200, plot_w = 560, bar_h = 16, top = 30;
  std::vector<double> costs;
  for (const Option& o : plan.options) costs.push_back(o.headline_usd(plan.nouns));
  LogScale x = log_scale(costs, plot_w);
  int bottom = top + static_cast<int>(plan.options.size()) * (bar_h + 4);
  int height = bottom + 48;
  std::string svg = svg_open(label_w + plot_w + 100, height, "cost per " + per_million(plan.nouns) + " by option") +
                    hatch_patterns();
  for (double d : x.decades())
    svg += fmt::format(R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" class="grid"/><text x="{0:.1f}" y="{3}" class="ax" text-anchor="middle">{4}</text>)",
                       label_w + x(d), top - 4, bottom, bottom + 14, money(d));
  svg += fmt::format(R"(<text x="{}" y="{}" class="ax" text-anchor="middle">cost per {} (log scale)</text>)",
                     label_w + plot_w / 2, bottom + 34, escape(per_million(plan.nouns)));
  int y = top;
  for (const Option& o : plan.options) {
    double w = std::max(1.0, x(o.headline_usd(plan.nouns)));
    svg += fmt::format(R"(<text x="{}" y="{}" class="lb" text-anchor="end">{}</text><rect x="{}" y="{}" width="{:.1f}" height="{}" fill="{}" stroke="{}"/><text x="{:.1f}" y="{}" class="ax">{}{}</text>)",
                       label_w - 6, y + bar_h - 4, escape(o.name), label_w, y, w, bar_h, fill(o), colour(o),
                       label_w + w + 4, y + bar_h - 4, money(o.headline_usd(plan.nouns)),
                       o.throughput_measured ? "" : " est.");
    y += bar_h + 4;
  }
  return svg + "</svg>";
}

// A point's label, placed right of it and moved down past labels already placed.
struct Label {
  double x, y, width;
};

std::string scatter_chart(const Plan& plan) {
  const int left = 90, top = 20, w = 680, h = 380, right = 150;
  std::vector<const Option*> points;
  std::vector<double> tput, cost;
  for (const Option& o : plan.options) {
    if (o.deployment == Deployment::cloud) continue;  // same throughput as its on-prem twin
    points.push_back(&o);
    tput.push_back(o.tokens_per_s), cost.push_back(o.usd_per_month);
  }
  LogScale x = log_scale(tput, w), y = log_scale(cost, h);
  std::string svg = svg_open(left + w + right, top + h + 60, "throughput per unit against monthly cost");
  for (double d : x.decades())
    svg += fmt::format(R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" class="grid"/><text x="{0:.1f}" y="{3}" class="ax" text-anchor="middle">{4}</text>)",
                       left + x(d), top, top + h, top + h + 16, with_commas(d));
  for (double d : y.decades())
    svg += fmt::format(R"(<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" class="grid"/><text x="{3}" y="{4:.1f}" class="ax" text-anchor="end">{5}</text>)",
                       left, left + w, top + h - y(d), left - 4, top + h - y(d) + 4, money(d));
  svg += fmt::format(R"(<text x="{}" y="{}" class="ax" text-anchor="middle">{}/s per unit (log scale)</text>)",
                     left + w / 2, top + h + 40, escape(plan.nouns.tokens));
  svg += fmt::format(R"svg(<text transform="translate(16 {}) rotate(-90)" class="ax" text-anchor="middle">cost per month, all units (log scale)</text>)svg",
                     top + h / 2);
  // Labels top to bottom, each moved down until it clears the ones placed before it.
  std::vector<size_t> order(points.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return y(cost[a]) > y(cost[b]) || (y(cost[a]) == y(cost[b]) && a < b); });
  // The points are obstacles too: a label never covers another option's point.
  std::vector<Label> placed;
  for (size_t i = 0; i < points.size(); ++i) placed.push_back({left + x(tput[i]) - 6, top + h - y(cost[i]) + 4, 12});
  std::string dots, labels;
  for (size_t i : order) {
    const Option& o = *points[i];
    double cx = left + x(tput[i]), cy = top + h - y(cost[i]);
    dots += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="5" fill="{}" stroke="{}" stroke-width="2"/>)", cx, cy,
                        o.throughput_measured ? colour(o) : "white", colour(o));
    Label l{cx + 8, cy + 4, 6.0 * o.name.size()};
    auto overlaps = [&](const Label& a) {
      return std::any_of(placed.begin(), placed.end(), [&](const Label& b) {
        return a.x < b.x + b.width && b.x < a.x + a.width && std::abs(a.y - b.y) < 12;
      });
    };
    while (overlaps(l)) l.y += 12;
    if (l.y != cy + 4)
      labels += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" class="lead"/>)", cx + 4, cy,
                            l.x - 1, l.y - 4);
    labels += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" class="pt">{}</text>)", l.x, l.y, escape(o.name));
    placed.push_back(l);
  }
  return svg + dots + labels + "</svg>";
}

// Yearly cost of one unit against hours of use, owned (fixed + energy per hour) and rented.
std::string break_even_chart(const Plan& plan, const Workload& w, const Catalog& catalog) {
  const Device* dev = nullptr;
  for (const Option& o : plan.options)  // the best-ranked device that can also be rented
    for (const Device& d : catalog.devices)
      if (!dev && d.name == o.name && d.cloud_usd_per_hour > 0) dev = &d;
  if (w.scope == DeploymentScope::on_prem)
    return "<p>Renting is ruled out by the workload (deployment: on-prem), so there is no break-even curve.</p>";
  if (!dev) return "<p>No option in this plan has a cloud rate, so there is no break-even curve.</p>";
  const CostAssumptions& c = w.costs;
  double price = dev->price_usd + dev->host_price_usd, watts = dev->power_w + dev->host_power_w;
  double fixed = price / c.years + c.maintenance_usd_per_year + c.rack_usd_per_year;
  auto owned = [&](double hours) { return fixed + energy_cost(watts, hours, c.energy); };
  auto rented = [&](double hours) { return dev->cloud_usd_per_hour * hours; };
  const int left = 90, w_px = 680, h = 300, y0 = 20;
  double step = round_step(std::max(owned(kHoursPerYear), rented(kHoursPerYear)), 5);
  double ymax = step * std::ceil(std::max(owned(kHoursPerYear), rented(kHoursPerYear)) / step);
  auto px = [&](double hours) { return left + hours / kHoursPerYear * w_px; };
  auto py = [&](double usd) { return y0 + h - usd / ymax * h; };
  std::string svg = svg_open(left + w_px + 60, h + 100, "break-even curve");
  for (double usd = 0; usd <= ymax * 1.0001; usd += step)
    svg += fmt::format(R"(<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" class="grid"/><text x="{3}" y="{4:.1f}" class="ax" text-anchor="end">{5}</text>)",
                       left, left + w_px, py(usd), left - 4, py(usd) + 4, money(usd));
  for (double hours = 0; hours <= kHoursPerYear; hours += 2000)
    svg += fmt::format(R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" class="grid"/><text x="{0:.1f}" y="{3}" class="ax" text-anchor="middle">{4}</text>)",
                       px(hours), y0, y0 + h, y0 + h + 16, with_commas(hours));
  svg += fmt::format(R"(<text x="{}" y="{}" class="ax" text-anchor="middle">hours of use per year (8,760 = around the clock)</text>)",
                     left + w_px / 2, y0 + h + 52);
  svg += fmt::format(R"svg(<text transform="translate(16 {}) rotate(-90)" class="ax" text-anchor="middle">cost of one unit per year</text>)svg",
                     y0 + h / 2);
  svg += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#2b7bb9" stroke-width="3"/>)",
                     px(0), py(owned(0)), px(kHoursPerYear), py(owned(kHoursPerYear)));
  svg += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#c0392b" stroke-width="3"/>)",
                     px(0), py(0), px(kHoursPerYear), py(rented(kHoursPerYear)));
  double be = break_even_hours_per_year(price, watts, c.maintenance_usd_per_year + c.rack_usd_per_year, c.years,
                                        dev->cloud_usd_per_hour, c.energy);
  if (be <= kHoursPerYear) {
    bool near_right = px(be) > left + w_px * 0.7;
    svg += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="6" fill="black"/><text x="{:.1f}" y="{:.1f}" class="lb" text-anchor="{}">break-even {} h/year</text>)",
                       px(be), py(rented(be)), px(be) + (near_right ? -10 : 10), py(rented(be)) + 20,
                       near_right ? "end" : "start", with_commas(be));
  }
  double use = std::min(w.hours_per_day * 365, kHoursPerYear);
  svg += fmt::format(R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" stroke="#555" stroke-dasharray="5,4"/><text x="{3:.1f}" y="{4}" class="ax" text-anchor="{5}">this workload: {6} h/year</text>)",
                     px(use), y0, y0 + h, px(use), y0 + h + 32, use > kHoursPerYear * 0.8 ? "end" : "middle",
                     with_commas(use));
  svg += fmt::format(R"(<rect x="{0}" y="{1}" width="14" height="4" fill="#2b7bb9"/><text x="{2}" y="{3}" class="lb">own (card + host, amortised over {7:g} years)</text><rect x="{0}" y="{4}" width="14" height="4" fill="#c0392b"/><text x="{2}" y="{5}" class="lb">rent at {6}/h</text>)",
                     left + 10, y0 + 8, left + 30, y0 + 13, y0 + 26, y0 + 31,
                     money(dev->cloud_usd_per_hour), c.years);
  return "<p>" + escape(dev->name) + ": yearly cost of one unit, owned or rented, by hours of use.</p>\n" + svg +
         "</svg>";
}

std::string list(const std::vector<std::string>& items, const std::vector<std::string>& paths) {
  std::string out = "<ul>";
  for (const std::string& s : items) out += "<li>" + escape(without_directories(s, paths)) + "</li>";
  return out + "</ul>";
}

std::string row(const std::string& what, const std::string& value, const std::string& source = "") {
  return "<tr><td class=\"l\">" + escape(what) + "</td><td class=\"l\">" + escape(value) + "</td><td class=\"l src\">" +
         escape(source) + "</td></tr>\n";
}

std::string source(const std::map<std::string, std::string>& sources, const std::string& field) {
  auto it = sources.find(field);
  if (it != sources.end()) return it->second;
  it = sources.find("");
  return it != sources.end() ? it->second : "";
}

// Every number the plan assumed rather than measured, with where it comes from.
std::string assumptions(const Plan& plan, const BenchReport& b, const Workload& w, const Catalog& catalog) {
  const CostAssumptions& c = w.costs;
  const Demand& d = plan.demand;
  const Nouns& n = plan.nouns;
  std::string t = "<div class=\"scroll\"><table class=\"assume\"><tr><th class=\"l\">assumption</th><th class=\"l\">value</th>"
                  "<th class=\"l\">from</th></tr>\n";
  t += row("volume", fmt::format("{} {}s/month over {:g} h/day", with_commas(d.requests_per_month), n.request,
                                 w.hours_per_day), file_name(w.file));
  if (plan.kind == ModelKind::encoder) {
    t += row("tokens per document", fmt::format("{:.0f} planned; the bench measured {:.0f}{}", d.input_tokens,
                                                b.input_tokens,
                                                b.seq_len > 0 ? fmt::format(" and cuts at {:g}", b.seq_len) : ""),
             file_name(w.file) + ", " + file_name(b.file));
  } else {
    t += row("tokens per request", fmt::format("{:.0f} prompt + {:.0f} generated, {:.0f} of context kept",
                                               d.input_tokens, d.generated_tokens, d.context_tokens),
             file_name(w.file));
    t += row("peak concurrent users", d.peak_concurrent_users > 0
                                          ? fmt::format("{:.0f} (with growth)", d.peak_concurrent_users)
                                          : "not given: units sized by throughput alone",
             file_name(w.file));
  }
  t += row("peak factor", fmt::format("x{:g} busiest hour over the average", w.peak_to_average), file_name(w.file));
  t += row("growth", fmt::format("{:.0f}%/year over {:g} years: capacity x{:.2f}", w.growth_per_year * 100, c.years,
                                 std::pow(1 + w.growth_per_year, c.years)),
           file_name(w.file));
  t += row("redundancy", fmt::format("N+{}", w.redundancy), file_name(w.file));
  t += row("deployment", fmt::format("{}{}", w.scope == DeploymentScope::any ? "on-prem or cloud"
                                             : w.scope == DeploymentScope::on_prem ? "on-prem only"
                                                                                  : "cloud only",
                                     w.exclude.empty() ? "" : ", excluding " + fmt::format("{}", fmt::join(w.exclude, ", "))),
           file_name(w.file));
  t += row("utilisation at peak", fmt::format("{:.0f}% of each unit's rate", c.utilisation * 100), file_name(w.file));
  t += row("electricity", fmt::format("${:g}/kWh, PUE {:g}", c.energy.usd_per_kwh, c.energy.pue), file_name(w.file));
  t += row("amortisation", fmt::format("{:g} years (TCO also over 5)", c.years), file_name(w.file));
  t += row("maintenance, rack", fmt::format("{}/year, {}/year per on-prem unit", money(c.maintenance_usd_per_year),
                                            money(c.rack_usd_per_year)),
           file_name(w.file));
  t += row("cloud", fmt::format("at least {:g} instance(s) up; egress {:g} GB/month at ${:g}/GB", c.cloud_min_instances,
                                c.egress_gb_per_month, c.egress_usd_per_gb),
           file_name(w.file));
  t += row("memory rule", fmt::format("weights + {} + {:.0f}% runtime overhead within {:.0f}% of device memory",
                                      plan.kind == ModelKind::decoder ? "KV cache" : "activations",
                                      c.runtime_overhead * 100, c.memory_headroom * 100),
           file_name(w.file));
  const OwnedMachine& m = w.this_machine;
  t += row("this machine", fmt::format("{} owned; another costs {}; {} W{}", m.owned_units,
                                       m.price_usd > 0 ? money(m.price_usd) : "not given", this_machine_power_w(w, b),
                                       m.power_estimated ? " (estimated: 10 W per thread)" : ""),
           file_name(w.file));
  t += row("the bench", fmt::format("{} threads, batch {:g}{}; {} M parameters in matmuls of {} M, {:g} layers",
                                    b.threads, b.batch, b.repeats > 1 ? fmt::format(", median of {} runs", b.repeats) : "",
                                    with_commas(b.matmul_parameters / 1e6, 2), with_commas(b.parameters / 1e6, 2), b.layers),
           file_name(b.file));
  // Each GPU's host server, once per price and source.
  std::vector<std::string> hosts_listed;
  for (const Device& dev : catalog.devices) {
    if (dev.host.empty()) continue;
    std::string src = dev.source_of("host_price_usd");
    if (std::find(hosts_listed.begin(), hosts_listed.end(), src) != hosts_listed.end()) continue;
    hosts_listed.push_back(src);
    std::vector<std::string> with;
    for (const Device& e : catalog.devices)
      if (e.source_of("host_price_usd") == src) with.push_back(e.name);
    t += row("host server (" + dev.host + ")",
             fmt::format("{} and {:g} W, for {}", money(dev.host_price_usd), dev.host_power_w, fmt::join(with, ", ")),
             src + "; power: " + dev.source_of("host_power_w"));
  }
  for (auto [name, e] : {std::pair{"GPU", &catalog.gpu}, {"NPU", &catalog.npu}}) {
    t += row(std::string(name) + " efficiency",
             fmt::format("{:.0f}% of int8 peak, {:.0f}% of bandwidth", e->compute * 100, e->bandwidth * 100),
             source(e->sources, "compute") + " / " + source(e->sources, "bandwidth"));
    t += row(std::string(name) + " overhead", fmt::format("{:g} ms per layer and forward pass; batches up to {}",
                                                          e->per_layer_ms, e->max_batch),
             source(e->sources, "per_layer_ms"));
  }
  t += row("CPU scaling", fmt::format("{:.0f}% of encode/prefill by int8 peak, {:.0f}% of decode by bandwidth, the "
                                      "rest by cores",
                                      catalog.cpu.matmul_share_read * 100, catalog.cpu.matmul_share_generate * 100),
           source(catalog.cpu.sources, "matmul_share_read"));
  t += row("CPU bandwidth", fmt::format("{:.0f}% of a catalog CPU's datasheet bandwidth against the measured one",
                                        catalog.cpu.bandwidth * 100),
           source(catalog.cpu.sources, "bandwidth"));
  t += row("sparsity", "GPU/NPU estimates are dense: the sparse CPU speedup is not assumed to carry over", "");
  t += "</table></div>\n";

  // Every catalog figure and its source, for the purchaser to check.
  t += "<details><summary>Catalog figures and their sources (" + escape(file_name(catalog.file)) +
       ")</summary><div class=\"scroll\"><table class=\"assume\"><tr><th class=\"l\">device</th><th class=\"l\">figure"
       "</th><th class=\"l\">from</th></tr>\n";
  for (const Device& dev : catalog.devices) {
    auto figure = [&](const char* field, const std::string& value) { t += row(dev.name, value, dev.source_of(field)); };
    figure("price_usd", "price " + money(dev.price_usd));
    if (dev.host_price_usd > 0) figure("host_price_usd", "host server " + money(dev.host_price_usd));
    figure("power_w", fmt::format("{:g} W", dev.power_w));
    figure("memory_gb", fmt::format("{:g} GB{}", dev.memory_bytes / 1e9, dev.unified_memory ? " (shared)" : ""));
    figure("memory_bandwidth_gbs", fmt::format("{} GB/s", with_commas(dev.bandwidth_gbs)));
    figure("int8_tops", fmt::format("{:g} int8 TOPS", dev.int8_tops));
    if (dev.cloud_usd_per_hour > 0) figure("cloud_usd_per_hour", fmt::format("cloud ${:.2f}/h", dev.cloud_usd_per_hour));
  }
  return t + "</table></div></details>\n";
}

}  // namespace

std::string html_report(const Plan& plan, const BenchReport& bench, const Workload& workload,
                        const Catalog& catalog) {
  const Verdict& v = plan.verdict;
  const std::vector<std::string> paths = {bench.file, workload.file, catalog.file};
  std::string html = R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>sparq plan</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
svg{max-width:100%;height:auto;display:block}
.verdict{background:#f3f7fb;border-left:5px solid #2b7bb9;padding:10px 16px}
.bad{border-left-color:#c0392b;background:#fbf3f3}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:12px}td,th{padding:3px 7px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
td:first-child,th:first-child,td.l,th.l{text-align:left}tr.no td{color:#999}
tr.measured td{font-weight:600;background:#eef5fb}
.assume td{white-space:normal;vertical-align:top;min-width:150px}.assume td.src{color:#555;min-width:220px}
.t{font-size:13px;font-weight:600}.ax{font-size:11px;fill:#555}.lb{font-size:12px}.pt{font-size:10px}
.grid{stroke:#e3e3e3}.lead{stroke:#999;stroke-width:0.7}.est{color:#a05a00;font-style:italic}
.legend{font-size:12px}.key{display:inline-block;width:12px;height:12px;margin:0 4px -2px 10px;border:1px solid #777}
.hatched{background:repeating-linear-gradient(45deg,#2b7bb9 0 3px,#fff 3px 6px)}
</style></head><body>
)";
  const Nouns& n = plan.nouns;
  const Demand& d = plan.demand;
  html += fmt::format("<h1>Deployment plan: {} for {}</h1>\n", escape(bench.model_name), escape(workload.name));
  std::string measured;
  for (size_t i = 0; i < bench.phases.size(); ++i) {
    const Phase& p = bench.phases[i];
    const PhaseEfficiency& e = plan.efficiency[i];
    std::string range = p.tokens_per_s_max > 0
                            ? fmt::format(" (median of {} runs, {}-{})", bench.repeats, with_commas(p.tokens_per_s_min),
                                          with_commas(p.tokens_per_s_max))
                            : "";
    measured += fmt::format("{}{} {} tokens/s{} ({:.0f}% of the measured {}), {} {:.1f} ms", i ? "; " : "", p.name,
                            with_commas(p.tokens_per_s), range, e.roofline_share * 100,
                            e.compute_bound ? "int8 peak" : "memory bandwidth", p.latency_label, p.p95_ms);
  }
  std::string shape = plan.kind == ModelKind::decoder
                          ? fmt::format("{:.0f} prompt + {:.0f} generated tokens each", d.input_tokens, d.generated_tokens)
                          : fmt::format("{:.0f} tokens each", d.input_tokens);
  html += fmt::format(
      "<p>Measured on {} ({} threads, batch {:g}): {} (matmul work). Workload: {} {}s/month of {}, "
      "{} {}/s average and {} {}/s planned peak over {:g} h/day. Every other figure is an estimate from these "
      "measurements, the catalog and the assumptions listed at the end, and is marked <span class=\"est\">est.</span></p>\n",
      escape(bench.cpu_model), bench.cpu_threads, bench.batch, escape(measured), with_commas(d.requests_per_month),
      n.request, shape, with_commas(d.average_tokens_per_s, 1), n.tokens, with_commas(d.peak_tokens_per_s, 1), n.tokens,
      workload.hours_per_day);
  bool bad = plan_misses_floors(plan);
  html += fmt::format("<div class=\"verdict{}\"><p><b>{}</b></p>{}", bad ? " bad" : "", escape(v.summary),
                      list(v.reasons, paths));
  if (!v.warnings.empty()) html += "<p>Warnings:</p>" + list(v.warnings, paths);
  html += "</div>\n" + legend();
  html += "<h2>Cost per " + per_million(n) + "</h2>\n" + cost_chart(plan);
  html += "\n<h2>Throughput against cost</h2>\n" + scatter_chart(plan);
  html += "\n<h2>Own or rent: break-even</h2>\n" + break_even_chart(plan, workload, catalog);
  html += "\n<h2>Options, ranked by cost per " + per_million(n) + "</h2>\n<div class=\"scroll\"><table><tr><th>option</th>"
          "<th>kind</th><th>deployment</th><th>" + n.tokens + "/s per unit</th><th>batch</th>";
  for (const Phase& p : bench.phases) html += "<th>" + p.latency_label + " ms</th>";
  html += "<th>units</th><th>unit price</th><th>$/month</th><th>$/1M " + n.request + "s</th><th>$/1M " + n.tokens +
          "</th><th>marginal $/1M " + (n.quote_per_token ? n.tokens : n.request + "s") +
          "</th><th>TCO 3y</th><th>TCO 5y</th><th>break-even h/yr</th><th>power W</th><th>memory headroom</th>"
          "<th class=\"l\">notes</th></tr>\n";
  for (const Option& o : plan.options) {
    // An estimate's figures are marked wherever they appear.
    auto cell = [&](const std::string& text) {
      return o.throughput_measured ? "<td>" + text + "</td>" : "<td class=\"est\">" + text + " est.</td>";
    };
    std::string notes;
    for (const std::string& w : o.warnings) notes += (notes.empty() ? "" : "; ") + w;
    std::string tput = with_commas(o.tokens_per_s);
    if (o.phases.size() == 1 && o.phases[0].tokens_per_s_max > 0)
      tput += fmt::format(" ({}-{})", with_commas(o.phases[0].tokens_per_s_min), with_commas(o.phases[0].tokens_per_s_max));
    std::string latencies, batches;
    for (const PhaseEstimate& p : o.phases) {
      latencies += cell(fmt::format("{:.1f}", p.p95_ms));
      if (!batches.empty()) batches += '/';
      batches += std::to_string(p.batch);
    }
    std::string units = std::to_string(o.units);
    if (o.owned_units > 0) units += fmt::format(" ({} owned)", o.owned_units);
    if (o.deployment == Deployment::cloud) units += fmt::format(" ({:.1f} billed)", o.billed_units);
    std::string price = o.deployment == Deployment::cloud ? "rented"
                        : o.host_price_usd > 0 ? money(o.card_price_usd) + " + " + money(o.host_price_usd) + " host"
                                               : money(o.card_price_usd);
    double headroom = memory_left_bytes(o, workload.costs);
    html += fmt::format(
        "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td>{}<td>{}</td><td>{}</td>{}{}{}{}{}{}<td>{}</td>"
        "<td>{}</td><td>{}</td><td class=\"l\">{}</td></tr>\n",
        !o.feasible ? "no" : o.throughput_measured ? "measured" : "", escape(o.name), device_kind_name(o.kind),
        deployment_name(o.deployment), cell(tput), batches, latencies, units, price, cell(money(o.usd_per_month)),
        cell(money(o.usd_per_million_requests)), cell(money(o.usd_per_million_tokens)),
        cell(money(n.quote_per_token ? o.marginal_usd_per_million_tokens : o.marginal_usd_per_million_requests)),
        cell(money(o.tco_3y)), cell(money(o.tco_5y)),
        o.break_even_hours_per_year && std::isfinite(*o.break_even_hours_per_year)
            ? with_commas(*o.break_even_hours_per_year) : "-",
        with_commas(o.power_w),
        o.memory_bytes > 0 ? fmt::format("{:.1f} GB{}", headroom / 1e9, o.unified_memory ? " shared" : "") : "-",
        escape(without_directories(notes, paths)));
  }
  html += "</table></div>\n<h2>Assumptions</h2>\n" + assumptions(plan, bench, workload, catalog);
  return html + "</body></html>\n";
}

}  // namespace sparq::runtime::planner
