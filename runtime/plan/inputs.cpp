#include "runtime/plan/inputs.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <string_view>

#include "formats/document.h"

namespace sparq::runtime::planner {

using formats::Fields;
using formats::FirstError;
using formats::load_document;
using formats::top_level;

const char* model_kind_name(ModelKind kind) { return kind == ModelKind::decoder ? "decoder" : "encoder"; }

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

Phase phase_of(ModelKind kind, Stage stage) {
  Phase p;
  p.stage = stage;
  if (kind == ModelKind::encoder) {
    p.name = "encode", p.latency_key = "latency", p.latency_label = "p95";
  } else if (stage == Stage::read) {
    p.name = "prefill", p.latency_key = "ttft", p.latency_label = "TTFT p95";
  } else {
    p.name = "decode", p.latency_key = "token_latency", p.latency_label = "token p95";
  }
  return p;
}

void read_percentiles(const Fields& f, FirstError& first, Phase& p) {
  p.p50_ms = first.get(f.number("p50"));
  p.p95_ms = first.get(f.number("p95"));
  p.p99_ms = first.get(f.number("p99"));
}

// `sparq bench --repeat N`: the rate's min and max over the runs (its median is the rate).
void read_range(const Fields& top, const std::string& key, FirstError& first, BenchReport& b, Phase& p) {
  if (!top.has("repeat")) return;
  Fields repeat = first.get(top.object("repeat"));
  b.repeats = static_cast<int>(first.get(repeat.number_or("count", 1)));
  if (!repeat.has(key)) return;
  Fields range = first.get(repeat.object(key));
  p.tokens_per_s_min = first.get(range.number("min"));
  p.tokens_per_s_max = first.get(range.number("max"));
}

void read_encoder_bench(const Fields& top, FirstError& first, BenchReport& b) {
  b.seq_len = first.get(top.number_or("seq_len", 0));
  b.input_tokens = first.get(positive(top, "avg_tokens_per_document", top.number("avg_tokens_per_document")));
  b.activation_bytes = first.get(top.number_or("activation_bytes", 0));
  Phase encode = phase_of(ModelKind::encoder, Stage::read);
  double documents_per_s = first.get(top.number_or("documents_per_s", 0));
  encode.tokens_per_s = first.get(top.number_or("tokens_per_s", 0));
  if (!first.error && documents_per_s <= 0 && encode.tokens_per_s <= 0)
    first.error = top.error("documents_per_s", "missing: give documents_per_s or tokens_per_s (> 0)");
  // One rate implies the other through the average document length.
  if (encode.tokens_per_s <= 0) encode.tokens_per_s = documents_per_s * b.input_tokens;
  read_percentiles(first.get(top.object("latency_ms")), first, encode);
  read_range(top, "tokens_per_s", first, b, encode);
  b.phases = {encode};
}

void read_decoder_bench(const Fields& top, const Fields& model, FirstError& first, BenchReport& b) {
  b.context_length = first.get(model.number_or("context_length", 0));
  b.input_tokens = first.get(positive(top, "prompt_tokens", top.number("prompt_tokens")));
  b.generated_tokens = first.get(positive(top, "generated_tokens", top.number("generated_tokens")));
  Phase prefill = phase_of(ModelKind::decoder, Stage::read);
  prefill.tokens_per_s = first.get(positive(top, "prefill_tokens_per_s", top.number("prefill_tokens_per_s")));
  Phase decode = phase_of(ModelKind::decoder, Stage::generate);
  decode.tokens_per_s = first.get(top.number("decode_tokens_per_s"));
  if (!first.error && decode.tokens_per_s <= 0)
    first.error = top.error("decode_tokens_per_s", "must be > 0 (a bench generating 1 token measures no decode step: "
                                                   "run it with --gen-len 2 or more)");
  // The time to first token's median is always there; its p95 only in reports that carry
  // the percentiles.
  double ttft = first.get(positive(top, "time_to_first_token_ms", top.number("time_to_first_token_ms")));
  if (top.has("time_to_first_token_percentiles_ms")) {
    read_percentiles(first.get(top.object("time_to_first_token_percentiles_ms")), first, prefill);
  } else {
    prefill.p50_ms = prefill.p95_ms = prefill.p99_ms = ttft;
    b.warnings.push_back(fmt::format("{} gives the median time to first token only: it stands in for the p95",
                                     b.file));
  }
  read_percentiles(first.get(top.object("token_latency_ms")), first, decode);
  double kv_cache_bytes = first.get(positive(top, "kv_cache_bytes", top.number("kv_cache_bytes")));
  b.kv_bytes_per_token = kv_cache_bytes / (b.batch * (b.input_tokens + b.generated_tokens));
  b.decode_weight_bytes =
      first.get(positive(top, "decode_weight_bytes_per_step", top.number("decode_weight_bytes_per_step")));
  read_range(top, "prefill_tokens_per_s", first, b, prefill);
  read_range(top, "decode_tokens_per_s", first, b, decode);
  b.phases = {prefill, decode};
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
  b.matmul_parameters = first.get(model.number_or("matmul_parameters", 0));
  b.matmul_dense_bytes = first.get(model.number_or("matmul_dense_bytes", 0));
  b.layers = first.get(model.number_or("layers", 0));
  std::string kind = first.get(model.text("kind"));
  if (kind == "decoder") {
    b.kind = ModelKind::decoder;
  } else if (kind != "encoder" && !first.error) {
    first.error = model.error("kind", fmt::format("must be \"encoder\" or \"decoder\", got \"{}\"", kind));
  }
  b.threads = static_cast<int>(first.get(positive(*top, "threads", top->number("threads"))));
  b.batch = first.get(positive(*top, "batch", top->number_or("batch", 1)));
  if (first.error) return *first.error;  // the kind's figures are read only once the kind is known
  if (b.kind == ModelKind::decoder) {
    read_decoder_bench(*top, model, first, b);
  } else {
    read_encoder_bench(*top, first, b);
  }

  Fields hw = first.get(top->object("hwinfo"));
  Fields cpu = first.get(hw.object("cpu"));
  b.cpu_model = first.get(cpu.text("model"));
  b.cpu_threads = static_cast<int>(first.get(cpu.number("threads")));
  b.cpu_cores = static_cast<int>(first.get(cpu.number_or("cores", b.cpu_threads)));
  if (hw.has("features") && hw.json().at("features").is_array())
    for (const nlohmann::json& f : hw.json().at("features")) b.amx = b.amx || f == "amx_int8";
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
  if (b.layers <= 0) {
    b.layers = kLayersAssumed;
    b.warnings.push_back(fmt::format("{} does not give model.layers (older sparq bench): {:g} assumed for the "
                                     "accelerators' fixed cost per layer",
                                     b.file, kLayersAssumed));
  }
  if (b.matmul_parameters <= 0 || b.matmul_dense_bytes <= 0) {
    b.matmul_parameters = b.parameters, b.matmul_dense_bytes = b.model_bytes;
    b.warnings.push_back(fmt::format("{} has no model.matmul_parameters (made by an older sparq bench): every "
                                     "parameter, embedding tables included, is counted as multiply work, which "
                                     "overstates the work per token; re-run `sparq bench --json`",
                                     b.file));
  }
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

namespace {

// The fields only one kind of workload has; the rest are common to both.
constexpr std::string_view kDocumentFields[] = {"documents_per_day", "tokens_per_month", "avg_tokens_per_document",
                                                "latency_slo_p95_ms"};
constexpr std::string_view kRequestFields[] = {"requests_per_day",         "generated_tokens_per_month",
                                               "avg_prompt_tokens",        "avg_generated_tokens",
                                               "max_context_tokens",       "ttft_slo_p95_ms",
                                               "token_latency_slo_p95_ms", "tokens_per_s_per_user",
                                               "peak_concurrent_users"};
constexpr std::string_view kCommonFields[] = {"name",       "hours_per_day", "peak_to_average", "growth_per_year",
                                              "redundancy", "deployment",    "exclude",         "costs",
                                              "this_machine"};

bool has_any(const Fields& w, std::span<const std::string_view> keys) {
  return std::any_of(keys.begin(), keys.end(), [&](std::string_view k) { return w.has(std::string(k)); });
}

// The kind is told by the volume: documents for an encoder, generation requests for a decoder.
// A field of the other kind is named as such, not as a typo.
Status check_fields(const Fields& w, ModelKind kind) {
  using Keys = std::span<const std::string_view>;
  Keys own = kind == ModelKind::decoder ? Keys(kRequestFields) : Keys(kDocumentFields);
  Keys other = kind == ModelKind::decoder ? Keys(kDocumentFields) : Keys(kRequestFields);
  for (std::string_view key : other)
    if (w.has(std::string(key)))
      return w.error(std::string(key),
                     kind == ModelKind::decoder
                         ? "is a field of document workloads (encoders); this one plans generation requests "
                           "(decoders): see models/example-llm-workload.yaml"
                         : "is a field of generation-request workloads (decoders); this one plans documents "
                           "(encoders): see models/example-workload.yaml");
  std::vector<std::string_view> known(std::begin(kCommonFields), std::end(kCommonFields));
  known.insert(known.end(), own.begin(), own.end());
  return w.only_keys(known);
}

void read_document_fields(const Fields& w, FirstError& first, Workload& out) {
  out.requests_per_day = first.get(w.number_in("documents_per_day", 0, 1e12, 0));
  out.tokens_per_month = first.get(w.number_in("tokens_per_month", 0, 1e16, 0));
  if (!first.error && out.requests_per_day <= 0 && out.tokens_per_month <= 0)
    first.error = w.error("documents_per_day", "missing: give documents_per_day or tokens_per_month (> 0)");
  out.input_tokens = first.get(w.number_in("avg_tokens_per_document", 0, 1e7, 0));
  if (double slo = first.get(w.number_in("latency_slo_p95_ms", 0, 1e7, 0)); slo > 0)
    out.latency_slo_p95_ms[Stage::read] = slo;
}

void read_request_fields(const Fields& w, FirstError& first, Workload& out) {
  out.requests_per_day = first.get(w.number_in("requests_per_day", 0, 1e12, 0));
  out.tokens_per_month = first.get(w.number_in("generated_tokens_per_month", 0, 1e16, 0));
  if (!first.error && out.requests_per_day <= 0 && out.tokens_per_month <= 0)
    first.error = w.error("requests_per_day", "missing: give requests_per_day or generated_tokens_per_month (> 0)");
  out.input_tokens = first.get(w.number_in("avg_prompt_tokens", 0, 1e7, 0));
  out.generated_tokens = first.get(w.number_in("avg_generated_tokens", 0, 1e7, 0));
  out.context_tokens = first.get(w.number_in("max_context_tokens", 0, 1e8, 0));
  out.peak_concurrent_users = first.get(w.number_in("peak_concurrent_users", 0, 1e9, 0));
  if (double ttft = first.get(w.number_in("ttft_slo_p95_ms", 0, 1e7, 0)); ttft > 0)
    out.latency_slo_p95_ms[Stage::read] = ttft;
  // A user's reading speed and the decode-step latency are one objective in two units.
  double token_ms = first.get(w.number_in("token_latency_slo_p95_ms", 0, 1e7, 0));
  double per_user = first.get(w.number_in("tokens_per_s_per_user", 0, 1e6, 0));
  if (!first.error && token_ms > 0 && per_user > 0)
    first.error = w.error("tokens_per_s_per_user",
                          "give it or token_latency_slo_p95_ms, not both (one is 1000 / the other)");
  if (per_user > 0) token_ms = 1000 / per_user;
  if (token_ms > 0) out.latency_slo_p95_ms[Stage::generate] = token_ms;
}

}  // namespace

// Every number of a workload is bounded by what could be a real deployment: a value past
// these is a typo or a unit mix-up, and past some of them the unit counts overflow.
Result<Workload> load_workload(const std::string& path) {
  nlohmann::json doc;
  Result<Fields> top = open_top_level(path, doc);
  if (!top) return top.error();
  const Fields& w = *top;
  Workload out;
  out.file = path;
  bool requests = w.has("requests_per_day") || w.has("generated_tokens_per_month");
  if (requests && (w.has("documents_per_day") || w.has("tokens_per_month")))
    return w.error("requests_per_day", "a workload counts documents (documents_per_day or tokens_per_month, for "
                                       "an encoder) or generation requests (requests_per_day or "
                                       "generated_tokens_per_month, for a decoder), not both");
  if (!requests && !w.has("documents_per_day") && !w.has("tokens_per_month") && has_any(w, kRequestFields))
    requests = true;  // a decoder's workload that lacks its volume: said as such below
  out.kind = requests ? ModelKind::decoder : ModelKind::encoder;
  if (Status s = check_fields(w, out.kind); !s) return s.error();

  FirstError first;
  out.name = first.get(w.text_or("name", "workload"));
  if (out.kind == ModelKind::decoder) {
    read_request_fields(w, first, out);
  } else {
    read_document_fields(w, first, out);
  }
  out.hours_per_day = first.get(positive(w, "hours_per_day", w.number_in("hours_per_day", 0, 24, 24)));
  out.peak_to_average = first.get(w.number_or("peak_to_average", 1));
  if (!first.error && out.peak_to_average < 1) first.error = w.error("peak_to_average", "must be >= 1");
  if (!first.error) out.peak_to_average = first.get(w.number_in("peak_to_average", 1, 1000, 1));
  out.growth_per_year = first.get(w.number_in("growth_per_year", 0, 100, 0));
  out.redundancy = static_cast<int>(first.get(whole(w, "redundancy", w.number_in("redundancy", 0, 1000, 0))));
  std::string scope = first.get(w.text_or("deployment", "any"));
  if (scope == "on-prem") {
    out.scope = DeploymentScope::on_prem;
  } else if (scope == "cloud") {
    out.scope = DeploymentScope::cloud;
  } else if (scope != "any" && !first.error) {
    first.error = w.error("deployment", fmt::format("must be on-prem, cloud or any, got \"{}\"", scope));
  }
  if (w.has("exclude")) {
    const nlohmann::json& names = w.json().at("exclude");
    bool strings = names.is_array() && std::all_of(names.begin(), names.end(), [](const auto& n) { return n.is_string(); });
    if (!strings && !first.error) first.error = w.error("exclude", "must be a list of catalog device names");
    if (strings)
      for (const nlohmann::json& n : names) out.exclude.push_back(n.get<std::string>());
  }

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
  if (Status s = machine.only_keys({"owned_units", "price_usd", "power_w", "cloud_usd_per_hour"}); !s && !first.error) {
    first.error = s.error();
  }
  out.this_machine.owned_units =
      static_cast<int>(first.get(whole(machine, "owned_units", machine.number_in("owned_units", 0, 1e6, 1))));
  out.this_machine.price_usd = first.get(machine.number_in("price_usd", 0, 1e9, 0));
  out.this_machine.power_estimated = !machine.has("power_w");
  out.this_machine.power_w = first.get(machine.number_in("power_w", 0, 1e6, 0));
  out.this_machine.cloud_usd_per_hour = first.get(machine.number_in("cloud_usd_per_hour", 0, 1e5, 0));
  if (first.error) return *first.error;
  return out;
}

}  // namespace sparq::runtime::planner
