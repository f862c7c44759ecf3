#include "tools/eval_perplexity.h"

#include <fmt/core.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "formats/input_file.h"
#include "formats/utf8.h"
#include "runtime/jobs/document_job.h"
#include "runtime/jobs/model_tokenizer.h"
#include "runtime/jobs/perplexity.h"
#include "runtime/model/decoder_model.h"
#include "tools/progress_bar.h"
#include "tools/table.h"

namespace sparq::tools {
namespace {

constexpr size_t kMaxTextBytes = size_t{256} << 20;

struct PerplexityFloor {
  // max_perplexity (a ceiling), relative (model / baseline, a ceiling >= 1: "at most 5 %
  // above dense" is relative=1.05) or relative_perplexity (baseline / model, a floor <= 1)
  std::string metric;
  double value = 0, measured = 0;
  bool passed = false;
};

Result<PerplexityFloor> parse_floor(const std::string& text) {
  PerplexityFloor f;
  const size_t eq = text.find('=');
  bool ok = eq != std::string::npos;
  if (ok) {
    f.metric = text.substr(0, eq);
    try {
      size_t used = 0;
      f.value = std::stod(text.substr(eq + 1), &used);
      ok = used == text.size() - eq - 1;
    } catch (const std::exception&) {
      ok = false;
    }
  }
  ok = ok && (((f.metric == "max_perplexity" || f.metric == "relative") && f.value >= 1) ||
              (f.metric == "relative_perplexity" && f.value > 0 && f.value <= 1));
  if (!ok) {
    return Error(fmt::format("--floor '{}': with --perplexity, expected max_perplexity=P (P >= 1: the model's "
                             "perplexity must not exceed it), relative=R (R >= 1: the model's perplexity / the "
                             "baseline's must not exceed it) or relative_perplexity=R (R in (0, 1]: baseline "
                             "perplexity / the model's must reach it)",
                             text),
                 ErrorKind::invalid_argument);
  }
  return f;
}

struct Measured {
  runtime::PerplexityResult result;
  kernels::KvEncoding kv_cache = kernels::KvEncoding::f32;
  double seconds = 0;
};

Result<Measured> measure(const PerplexityArgs& a, const std::string& path, kernels::KvEncoding kv_cache,
                         const std::string& text, std::optional<std::vector<int32_t>>& ids) {
  auto model = runtime::DecoderModel::load(path);
  if (!model) return model.error();
  auto tokenizer = runtime::tokenizer_from_metadata((*model)->metadata(), path, (*model)->config().vocab_size);
  if (!tokenizer) return tokenizer.error();
  // The baseline must score the same tokens: its tokenizer has to agree.
  auto encoded = (*tokenizer)->encode(text, 0);
  if (!encoded) return encoded.error().within(a.text_file);
  if (ids && *ids != encoded->ids) {
    return Error(fmt::format("{} and {} tokenize {} differently: their perplexities would not be comparable", a.model,
                             path, a.text_file),
                 ErrorKind::invalid_input);
  }
  ids = encoded->ids;
  ProgressBar bar(fmt::format("tokens of {}", path), ids->size(), !a.quiet);
  const runtime::PerplexityOptions o{.context = a.context, .stride = a.stride, .kv_cache = kv_cache,
                                     .progress = [&](uint64_t scored, uint64_t) { bar.update(scored, scored); }};
  const auto start = std::chrono::steady_clock::now();
  auto r = runtime::perplexity(**model, *ids, o);
  bar.finish();
  if (!r) return r.error().within(path);
  return Measured{*r, kv_cache, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
}

nlohmann::ordered_json to_json(const std::string& path, const Measured& m) {
  return {{"model", path},
          {"perplexity", m.result.perplexity},
          {"nll", m.result.nll},
          {"scored_tokens", m.result.scored_tokens},
          {"windows", m.result.windows},
          {"kv_cache_type", kernels::kv_encoding_name(m.kv_cache)},
          {"seconds", m.seconds},
          {"tokens_per_s", double(m.result.scored_tokens) / m.seconds}};
}

}  // namespace

Status run_perplexity_eval(const PerplexityArgs& a) {
  std::vector<PerplexityFloor> floors;
  for (const std::string& f : a.floors) {
    Result<PerplexityFloor> parsed = parse_floor(f);
    if (!parsed) return parsed.error();
    if (parsed->metric != "max_perplexity" && a.baseline.empty()) {
      return Error(fmt::format("--floor {} compares with a baseline: give --baseline DENSE.sparq", parsed->metric),
                   ErrorKind::invalid_argument);
    }
    floors.push_back(*parsed);
  }
  if (Status s = runtime::apply_thread_count(a.threads); !s) return s;
  Result<std::string> text = formats::read_regular_file(a.text_file, kMaxTextBytes);
  if (!text) return text.error();
  if (size_t bad = formats::find_invalid_utf8(*text); bad != std::string::npos) {
    return Error(fmt::format("{}: invalid UTF-8 at byte {}", a.text_file, bad), ErrorKind::invalid_input);
  }
  std::optional<std::vector<int32_t>> ids;
  Result<Measured> model = measure(a, a.model, a.kv_cache, *text, ids);
  if (!model) return model.error();
  std::optional<Measured> baseline;
  if (!a.baseline.empty()) {
    Result<Measured> b = measure(a, a.baseline, kernels::KvEncoding::f32, *text, ids);
    if (!b) return b.error();
    baseline = *b;
  }

  bool all_passed = true;
  nlohmann::json floor_list = nlohmann::json::array();
  for (PerplexityFloor& f : floors) {
    if (f.metric == "max_perplexity") {
      f.measured = model->result.perplexity;
      f.passed = f.measured <= f.value;
    } else if (f.metric == "relative") {
      f.measured = model->result.perplexity / baseline->result.perplexity;
      f.passed = f.measured <= f.value;
    } else {
      f.measured = baseline->result.perplexity / model->result.perplexity;
      f.passed = f.measured >= f.value;
    }
    all_passed = all_passed && f.passed;
    floor_list.push_back({{"metric", f.metric}, {"value", f.value}, {"measured", f.measured}, {"passed", f.passed}});
  }
  nlohmann::ordered_json j = to_json(a.model, *model);
  j["text"] = a.text_file;
  j["tokens"] = model->result.tokens;
  j["context"] = model->result.context;
  j["stride"] = model->result.stride;
  if (baseline) j["baseline"] = to_json(a.baseline, *baseline);
  j["floors"] = floor_list;
  j["passed"] = all_passed;
  if (a.json) {
    fmt::print("{}\n", j.dump(2));
  } else {
    TextTable t({"model", "perplexity", "scored tokens", "tokens/s"},
                {TextTable::Align::left, TextTable::Align::right, TextTable::Align::right, TextTable::Align::right});
    const auto row = [&](const std::string& name, const Measured& m) {
      const std::string shown = m.kv_cache == kernels::KvEncoding::f32
                                    ? name
                                    : fmt::format("{} (KV cache {})", name, kernels::kv_encoding_name(m.kv_cache));
      t.add_row({shown, fmt::format("{:.4f}", m.result.perplexity), fmt::format("{}", m.result.scored_tokens),
                 fmt::format("{:.1f}", double(m.result.scored_tokens) / m.seconds)});
    };
    row(a.model, *model);
    if (baseline) row(a.baseline + " (baseline)", *baseline);
    fmt::print("{}: {} tokens, windows of {} every {}\n{}", a.text_file, model->result.tokens, model->result.context,
               model->result.stride, t.render());
    if (baseline) {
      fmt::print("relative perplexity (baseline / model): {:.4f}\n",
                 baseline->result.perplexity / model->result.perplexity);
    }
    for (const PerplexityFloor& f : floors) {
      fmt::print("floor {} {} {}: measured {:.4f} -> {}\n", f.metric, f.metric == "relative_perplexity" ? ">=" : "<=",
                 f.value, f.measured, f.passed ? "PASS" : "FAIL");
    }
  }
  if (!all_passed) return Error("a quality floor was not cleared", ErrorKind::below_floor);
  return {};
}

}  // namespace sparq::tools
