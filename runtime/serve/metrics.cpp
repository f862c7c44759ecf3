#include "runtime/serve/metrics.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

namespace sparq::serve {
namespace {

// {a="x",b="y"} with the exposition format's escapes.
std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first + "=\"";
    for (char c : labels[i].second) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// The same labels with one more (a histogram's "le").
std::string with_label(const std::string& rendered, const std::string& name, const std::string& value) {
  std::string extra = name + "=\"" + value + "\"";
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::vector<double> powers_of_two(double first, size_t n) {
  std::vector<double> b;
  for (size_t i = 0; i < n; ++i) b.push_back(first * double(uint64_t{1} << i));
  return b;
}

}  // namespace

Metrics::Metrics() {
  const std::vector<double> seconds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  families_["sparq_http_requests_total"] = {"HTTP requests answered, by route and status", "counter", {}, {}, {}};
  families_["sparq_http_request_duration_seconds"] = {
      "Wall time from a request's routing to the end of its response (a stream's last event)", "histogram", seconds,
      {}, {}};
  families_["sparq_queue_depth"] = {"Requests queued for or running on a model", "gauge", {}, {}, {}};
  families_["sparq_batch_size"] = {"Texts (encoders) or sequences (decoders) per forward pass", "histogram",
                                   powers_of_two(1, 10), {}, {}};
  families_["sparq_batch_tokens"] = {"Tokens per forward pass", "histogram", powers_of_two(16, 12), {}, {}};
  families_["sparq_time_to_first_token_seconds"] = {"Time from a generation request's arrival to its first token",
                                                    "histogram", seconds, {}, {}};
  families_["sparq_tokens_total"] = {
      "Tokens processed, by kind: input (encoders), prompt and generated (decoders); tokens/s is its rate()",
      "counter", {}, {}, {}};
  families_["sparq_model_info"] = {"A served model: its name, task, file and the kernels' ISA", "gauge", {}, {}, {}};
}

void Metrics::add(std::string_view family, const Labels& labels, double v) {
  std::lock_guard lock(mutex_);
  families_.find(family)->second.values[render_labels(labels)] += v;
}

void Metrics::set(std::string_view family, const Labels& labels, double v) {
  std::lock_guard lock(mutex_);
  families_.find(family)->second.values[render_labels(labels)] = v;
}

void Metrics::observe(std::string_view family, const Labels& labels, double v) {
  std::lock_guard lock(mutex_);
  Family& f = families_.find(family)->second;
  Histogram& h = f.histograms[render_labels(labels)];
  h.counts.resize(f.bounds.size() + 1);
  const size_t bucket = size_t(std::lower_bound(f.bounds.begin(), f.bounds.end(), v) - f.bounds.begin());
  ++h.counts[bucket];
  h.sum += v;
  ++h.count;
}

void Metrics::request_done(std::string_view route, int status, double seconds) {
  add("sparq_http_requests_total", {{"route", std::string(route)}, {"status", std::to_string(status)}}, 1);
  observe("sparq_http_request_duration_seconds", {{"route", std::string(route)}}, seconds);
}

void Metrics::batch_done(std::string_view model, size_t batch_size, size_t tokens) {
  observe("sparq_batch_size", {{"model", std::string(model)}}, double(batch_size));
  observe("sparq_batch_tokens", {{"model", std::string(model)}}, double(tokens));
}

void Metrics::time_to_first_token(std::string_view model, double seconds) {
  observe("sparq_time_to_first_token_seconds", {{"model", std::string(model)}}, seconds);
}

void Metrics::add_tokens(std::string_view model, std::string_view kind, uint64_t n) {
  add("sparq_tokens_total", {{"model", std::string(model)}, {"kind", std::string(kind)}}, double(n));
}

void Metrics::set_queue_depth(std::string_view model, size_t depth) {
  set("sparq_queue_depth", {{"model", std::string(model)}}, double(depth));
}

void Metrics::set_model_info(const Labels& labels) { set("sparq_model_info", labels, 1); }

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
    for (const auto& [labels, v] : f.values) out += fmt::format("{}{} {}\n", name, labels, number(v));
    for (const auto& [labels, h] : f.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= f.bounds.size(); ++i) {
        cumulative += h.counts[i];
        const std::string le = i < f.bounds.size() ? number(f.bounds[i]) : "+Inf";
        out += fmt::format("{}_bucket{} {}\n", name, with_label(labels, "le", le), cumulative);
      }
      out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, labels, number(h.sum), name, labels, h.count);
    }
  }
  return out;
}

}  // namespace sparq::serve
