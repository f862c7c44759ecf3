// sparq eval: a model's quality on labelled documents, optionally next to a baseline (the
// dense model), checked against quality floors (exit status 3 when one is not cleared);
// for classifiers also how far their scores can be trusted (calibration_metrics.h), and
// with --calibrate the temperature that would make them more so (temperature_fit.h).
#include <fmt/core.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "runtime/jobs/calibration_metrics.h"
#include "runtime/jobs/classification_metrics.h"
#include "runtime/jobs/temperature_fit.h"
#include "tools/command.h"
#include "tools/eval_perplexity.h"
#include "tools/kv_cache_option.h"
#include "runtime/jobs/document_job.h"
#include "tools/job_options.h"
#include "runtime/jobs/evaluation.h"
#include "tools/table.h"

namespace sparq::tools {

using runtime::DocumentJobOptions;
using runtime::EvaluationRequest;
using runtime::ModelRun;
using runtime::OutputFile;
using runtime::run_labelled_documents;
namespace {

using nlohmann::ordered_json;

struct EvalArgs {
  DocumentJobOptions job;
  bool quiet = false, json = false, calibrate = false;
  std::string baseline, predictions, label_field = "label";
  std::vector<std::string> floors;
  std::string perplexity;  // decoders: a text file
  size_t context = 0, stride = 0;
  kernels::KvEncoding kv_cache = kernels::KvEncoding::f32;
};

struct Floor {
  std::string metric;  // accuracy, macro_f1, relative, relative_f1, agreement, cosine, accuracy@COVERAGE
  double coverage = 0;  // accuracy@COVERAGE: the share of most confident documents
  double value = 0;
  double measured = 0;
  bool passed = false;
};

Result<Floor> parse_floor(const std::string& text) {
  size_t eq = text.find('=');
  Floor f;
  if (eq != std::string::npos) {
    f.metric = text.substr(0, eq);
    try {
      size_t used = 0;
      f.value = std::stod(text.substr(eq + 1), &used);
      if (used != text.size() - eq - 1) eq = std::string::npos;
    } catch (const std::exception&) {
      eq = std::string::npos;
    }
  }
  static const char* kMetrics[] = {"accuracy", "macro_f1", "relative", "relative_f1", "agreement", "cosine"};
  bool known = std::find(std::begin(kMetrics), std::end(kMetrics), f.metric) != std::end(kMetrics);
  if (f.metric.starts_with("accuracy@")) {
    try {
      size_t used = 0;
      const std::string c = f.metric.substr(9);
      f.coverage = std::stod(c, &used);
      known = used == c.size() && f.coverage > 0 && f.coverage <= 1;
    } catch (const std::exception&) {
      known = false;
    }
  }
  if (eq == std::string::npos || !known || !(f.value >= 0 && f.value <= 1)) {
    return Error(fmt::format("--floor '{}': expected METRIC=VALUE with METRIC one of accuracy, macro_f1, relative "
                             "(accuracy / baseline accuracy), relative_f1, agreement, cosine, accuracy@COVERAGE "
                             "(accuracy of the most confident COVERAGE share of documents, COVERAGE in (0, 1]) and "
                             "VALUE in [0, 1]",
                             text),
                 ErrorKind::invalid_argument);
  }
  return f;
}

// Runs the labelled documents through one model (loaded once: the baseline is loaded only
// after the evaluated model is done with).
Result<ModelRun> run_model(const EvalArgs& a, const std::string& path, std::optional<bool> expect_classifier,
                           OutputFile* predictions) {
  EvaluationRequest request;
  request.job = a.job;
  request.label_field = a.label_field;
  request.expect_classifier = expect_classifier;
  request.embedder_allowed = !a.baseline.empty();
  request.embedder_hint = "this model is an embedder: its quality is measured against a baseline's embeddings; give --baseline";
  request.predictions = predictions;
  JobReporter reporter(a.quiet);
  request.observer = reporter.observer();
  return run_labelled_documents(request, path);
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0;
}

void print_calibration(const runtime::CalibrationMetrics& c) {
  fmt::print("\ncalibration at temperature {:g}: ECE {:.4f} ({} equal-width bins of the top probability), Brier {:.4f}, "
             "NLL {:.4f}\n",
             c.temperature, c.ece, c.reliability.size(), c.brier, c.nll);
  TextTable r({"top probability", "documents", "mean confidence", "accuracy"},
              {TextTable::Align::left, TextTable::Align::right, TextTable::Align::right, TextTable::Align::right});
  for (const runtime::ReliabilityBin& b : c.reliability) {
    if (b.count == 0) continue;
    r.add_row({fmt::format("[{:.3f}, {:.3f}{}", b.lower, b.upper, b.upper >= 1 ? "]" : ")"), fmt::format("{}", b.count),
               fmt::format("{:.4f}", b.mean_confidence), fmt::format("{:.4f}", b.accuracy)});
  }
  fmt::print("{}", r.render());
  TextTable cov({"coverage", "documents", "accuracy", "threshold (--min-score)"},
                {TextTable::Align::right, TextTable::Align::right, TextTable::Align::right, TextTable::Align::right});
  for (const runtime::CoveragePoint& p : c.coverage) {
    cov.add_row({fmt::format("{:g} %", 100 * p.coverage), fmt::format("{}", p.documents),
                 fmt::format("{:.4f}", p.accuracy), fmt::format("{:.4f}", p.threshold)});
  }
  fmt::print("accuracy of the most confident documents:\n{}", cov.render());
}

Status run_eval(const EvalArgs& a) {
  std::vector<Floor> floors;
  for (const std::string& f : a.floors) {
    Result<Floor> parsed = parse_floor(f);
    if (!parsed) return parsed.error();
    floors.push_back(*parsed);
  }
  bool needs_baseline = false;
  for (const Floor& f : floors) {
    needs_baseline |= f.metric == "relative" || f.metric == "relative_f1" || f.metric == "agreement" || f.metric == "cosine";
  }
  if (needs_baseline && a.baseline.empty()) {
    return Error("--floor relative / relative_f1 / agreement / cosine compares with a baseline: give --baseline DENSE.sparq",
                 ErrorKind::invalid_argument);
  }
  std::unique_ptr<OutputFile> predictions;
  if (!a.predictions.empty()) {
    auto p = OutputFile::create(a.predictions);
    if (!p) return p.error();
    predictions = std::move(*p);
  }
  Result<ModelRun> model = run_model(a, a.job.model, std::nullopt, predictions.get());
  if (!model) return model.error();
  const bool classify = model->classify;
  if (a.calibrate && !classify) {
    return Error("--calibrate fits a classifier's temperature; this model is an embedder", ErrorKind::invalid_argument);
  }
  if (predictions) {
    if (Status s = predictions->commit(); !s) return s;
  }
  std::optional<ModelRun> baseline;
  if (!a.baseline.empty()) {
    Result<ModelRun> b = run_model(a, a.baseline, classify, nullptr);
    if (!b) return b.error();
    if (b->ok_index != model->ok_index) {
      return Error(fmt::format("{} and {} failed on different documents (different tokenizers or limits); "
                               "they cannot be compared document by document",
                               a.job.model, a.baseline),
                   ErrorKind::invalid_input);
    }
    if (classify && b->labels != model->labels) {
      return Error(fmt::format("{} and {} have different label sets", a.job.model, a.baseline), ErrorKind::invalid_input);
    }
    baseline = std::move(*b);
  }
  if (model->ok_index.empty()) return Error(fmt::format("{}: no document could be evaluated", a.job.input), ErrorKind::invalid_input);
  const std::map<std::string, uint64_t> unknown = runtime::unknown_gold_labels(*model);
  if (!unknown.empty()) {
    uint64_t n = 0;
    std::string examples;
    for (const auto& [label, count] : unknown) {
      n += count;
      if (examples.size() < 200) examples += fmt::format("{}\"{}\" ({})", examples.empty() ? "" : ", ", label, count);
    }
    std::string known;
    for (const std::string& l : model->labels) {
      if (known.size() < 200) known += fmt::format("{}\"{}\"", known.empty() ? "" : ", ", l);
    }
    std::string what = fmt::format("{}: {} of {} documents have a gold {} that is not one of the model's labels: {}; "
                                   "the model's labels are {}",
                                   a.job.input, n, model->gold.size(), a.label_field, examples, known);
    if (n == model->gold.size()) return Error(what + " (labelled another way?)", ErrorKind::invalid_input);
    if (!a.quiet) fmt::print(stderr, "sparq: warning: {}\n", what);
  }

  ordered_json j = {{"version", 1}, {"model", a.job.model}, {"dataset", a.job.input},
                    {"task", classify ? "classify" : "embed"}, {"examples", model->ok_index.size()},
                    {"errors", model->errors}, {"documents_per_s", model->docs_per_s}};
  if (!unknown.empty()) j["unknown_gold_labels"] = unknown;
  runtime::ClassificationMetrics m, bm;
  runtime::CalibrationMetrics calibration, calibrated;
  double agreement = 0, relative = 0, relative_f1 = 0, mean_cosine = 0, min_cosine = 1;
  if (classify) {
    m = runtime::classification_metrics(model->labels, model->gold, model->predicted);
    j["accuracy"] = m.accuracy;
    j["macro_f1"] = m.macro_f1;
    nlohmann::json detail = runtime::to_json(m);
    j["per_class"] = detail["per_class"];
    j["confusion"] = detail["confusion"];
    calibration = runtime::calibration_metrics(model->logits, model->temperature);
    j["calibration"] = runtime::to_json(calibration);
    if (a.calibrate) {
      const runtime::TemperatureFit fit = runtime::fit_temperature(model->logits);
      calibrated = runtime::calibration_metrics(model->logits, fit.temperature);
      j["temperature_fit"] = {{"temperature", fit.temperature},
                              {"nll_before", calibration.nll},
                              {"nll_after", calibrated.nll},
                              {"ece_before", calibration.ece},
                              {"ece_after", calibrated.ece},
                              {"brier_before", calibration.brier},
                              {"brier_after", calibrated.brier},
                              {"calibration", runtime::to_json(calibrated)}};
    }
  }
  if (baseline) {
    ordered_json b = {{"model", a.baseline}, {"documents_per_s", baseline->docs_per_s}};
    if (classify) {
      bm = runtime::classification_metrics(baseline->labels, baseline->gold, baseline->predicted);
      size_t same = 0;
      for (size_t i = 0; i < model->predicted.size(); ++i) same += model->predicted[i] == baseline->predicted[i];
      agreement = double(same) / double(model->predicted.size());
      relative = bm.accuracy > 0 ? m.accuracy / bm.accuracy : 0;
      relative_f1 = bm.macro_f1 > 0 ? m.macro_f1 / bm.macro_f1 : 0;
      b["accuracy"] = bm.accuracy;
      b["macro_f1"] = bm.macro_f1;
      j["delta"] = {{"accuracy", m.accuracy - bm.accuracy}, {"macro_f1", m.macro_f1 - bm.macro_f1}};
      j["relative_accuracy"] = relative;
      j["relative_macro_f1"] = relative_f1;
      j["agreement"] = agreement;
    } else {
      double sum = 0;
      for (size_t i = 0; i < model->embeddings.size(); ++i) {
        double c = cosine(model->embeddings[i], baseline->embeddings[i]);
        sum += c;
        min_cosine = std::min(min_cosine, c);
      }
      mean_cosine = sum / double(model->embeddings.size());
      j["cosine"] = {{"mean", mean_cosine}, {"min", min_cosine}};
    }
    j["baseline"] = b;
  }
  bool all_passed = true;
  nlohmann::json floor_list = nlohmann::json::array();
  for (Floor& f : floors) {
    if (f.coverage > 0 && classify) {
      // At the model's own temperature: the scores `sparq classify` prints rank the documents.
      const double coverage[] = {f.coverage};
      f.measured = runtime::calibration_metrics(model->logits, model->temperature, runtime::kCalibrationBins, coverage)
                       .coverage[0]
                       .accuracy;
    } else {
      f.measured = f.metric == "accuracy"      ? m.accuracy
                   : f.metric == "macro_f1"    ? m.macro_f1
                   : f.metric == "relative"    ? relative
                   : f.metric == "relative_f1" ? relative_f1
                   : f.metric == "agreement"   ? agreement
                                               : mean_cosine;
    }
    if ((f.metric == "accuracy" || f.metric == "macro_f1" || f.metric == "relative" || f.metric == "relative_f1" ||
         f.metric == "agreement" || f.coverage > 0) &&
        !classify) {
      return Error(fmt::format("--floor {}: this model is an embedder; use --floor cosine=VALUE", f.metric),
                   ErrorKind::invalid_argument);
    }
    f.passed = f.measured >= f.value;
    all_passed &= f.passed;
    floor_list.push_back({{"metric", f.metric}, {"value", f.value}, {"measured", f.measured}, {"passed", f.passed}});
  }
  j["floor"] = floor_list.empty() ? nlohmann::json(nullptr) : floor_list[0];
  j["floors"] = floor_list;
  j["passed"] = all_passed;

  if (a.json) {
    fmt::print("{}\n", j.dump(2));
  } else {
    auto error_text = [](const ModelRun& r) {
      uint64_t n = 0;
      for (const auto& [code, count] : r.errors) n += count;
      return n;
    };
    if (classify) {
      TextTable t({"model", "examples", "accuracy", "macro-F1", "docs/s"},
                  {TextTable::Align::left, TextTable::Align::right, TextTable::Align::right, TextTable::Align::right,
                   TextTable::Align::right});
      t.add_row({a.job.model, fmt::format("{} ({} errors)", m.examples, error_text(*model)),
                 fmt::format("{:.4f}", m.accuracy), fmt::format("{:.4f}", m.macro_f1),
                 fmt::format("{:.1f}", model->docs_per_s)});
      if (baseline) {
        t.add_row({a.baseline + " (baseline)", fmt::format("{}", bm.examples), fmt::format("{:.4f}", bm.accuracy),
                   fmt::format("{:.4f}", bm.macro_f1), fmt::format("{:.1f}", baseline->docs_per_s)});
      }
      fmt::print("{}", t.render());
      if (baseline) {
        fmt::print("delta: accuracy {:+.4f}, macro-F1 {:+.4f}; relative accuracy {:.2f} %; agreement with the baseline "
                   "{:.2f} %\n",
                   m.accuracy - bm.accuracy, m.macro_f1 - bm.macro_f1, 100 * relative, 100 * agreement);
      }
      TextTable pc({"class", "support", "precision", "recall", "F1", baseline ? "F1 baseline" : ""},
                   {TextTable::Align::left, TextTable::Align::right, TextTable::Align::right, TextTable::Align::right,
                    TextTable::Align::right, TextTable::Align::right});
      for (const runtime::ClassMetrics& c : m.classes) {
        std::string base;
        if (baseline) {
          for (const runtime::ClassMetrics& d : bm.classes) {
            if (d.label == c.label) base = fmt::format("{:.3f}", d.f1);
          }
        }
        pc.add_row({c.label, fmt::format("{}", c.support), fmt::format("{:.3f}", c.precision),
                    fmt::format("{:.3f}", c.recall), fmt::format("{:.3f}", c.f1), base});
      }
      fmt::print("\n{}", pc.render());
      print_calibration(calibration);
      if (a.calibrate) {
        const double t = j["temperature_fit"]["temperature"];
        fmt::print("\ntemperature fit (lowest NLL of the gold labels on these documents): T = {:.4f}\n"
                   "  at T = {:g} -> {:.4f}: NLL {:.4f} -> {:.4f}, ECE {:.4f} -> {:.4f}, Brier {:.4f} -> {:.4f}\n"
                   "  store it: sparq convert --from sparq {} -o CALIBRATED.sparq --temperature {:.4f}\n",
                   t, calibration.temperature, t, calibration.nll, calibrated.nll, calibration.ece, calibrated.ece,
                   calibration.brier, calibrated.brier, a.job.model, t);
        fmt::print("\nafter the fit:");
        print_calibration(calibrated);
      }
    } else {
      fmt::print("{}: {} documents; cosine similarity to {}: mean {:.5f}, min {:.5f}\n", a.job.model,
                 model->ok_index.size(), a.baseline, mean_cosine, min_cosine);
    }
    for (const Floor& f : floors) {
      fmt::print("floor {} >= {}: measured {:.4f} -> {}\n", f.metric, f.value, f.measured, f.passed ? "PASS" : "FAIL");
    }
  }
  if (!all_passed) return Error("a quality floor was not cleared", ErrorKind::below_floor);
  return {};
}

}  // namespace

Command add_eval_command(CLI::App& parent) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* app = parent.add_subcommand(
      "eval",
      "Measure a model's quality on labelled documents: accuracy, macro-F1, per-class precision/recall, confusion "
      "matrix; with --baseline, both side by side with deltas and agreement (embedders: cosine similarity to the "
      "baseline's embeddings). Classifiers also get calibration: expected calibration error (ECE: 15 equal-width "
      "bins of the top probability, |accuracy - mean confidence| weighted by the bin's share), a reliability table, "
      "the multi-class Brier score (mean over documents of sum over labels of (p - one-hot gold)^2; 0 best, 2 "
      "worst), the NLL, and accuracy at coverage: the accuracy of the most confident 50/80/90/95 % of documents "
      "and the score threshold (`sparq classify --min-score`) that keeps them. Decoders: --perplexity TEXT_FILE. "
      "Exit status 3 when a --floor is not cleared.");
  add_document_job_options(app, &a->job, &a->quiet);
  app->remove_option(app->get_option("--output"));
  app->get_option("--input")->description("Labelled documents (JSONL/CSV with a label field)");
  app->add_option("--label-field", a->label_field, "JSONL field / CSV column of the gold label")->capture_default_str();
  app->add_option("--baseline", a->baseline, "The model to compare with (usually the dense f32 one)");
  app->add_option("--floor", a->floors,
                  "METRIC=VALUE, repeatable: accuracy, macro_f1 (absolute), relative, relative_f1 (vs the baseline), "
                  "agreement, cosine (embedders), accuracy@COVERAGE (e.g. accuracy@0.9=0.95: the most confident 90 % "
                  "of documents are at least 95 % right)");
  app->add_flag("--calibrate", a->calibrate,
                "Classifiers: fit the temperature T that minimises the negative log-likelihood of the gold labels "
                "(softmax(logits / T)) and report ECE, Brier and NLL before and after; store T with `sparq convert "
                "--from sparq MODEL -o OUT --temperature T`");
  add_json_flag(app, &a->json, "the report (what `sparq plan --eval` reads: `sparq eval ... --json > eval.json`)");
  app->add_option("--predictions", a->predictions, "Write one JSON line per document: id, predicted and gold label");
  CLI::Option* ppl = app->add_option("--perplexity", a->perplexity,
                                     "Decoders: the perplexity of a UTF-8 text file, tokenized whole (floors: "
                                     "max_perplexity=P, relative=R (model / baseline <= R) or relative_perplexity=R with --baseline)");
  app->add_option("--context", a->context, "With --perplexity: tokens per window (default: the model's context)")
      ->needs(ppl);
  app->add_option("--stride", a->stride, "With --perplexity: tokens between window starts (default: context / 2)")
      ->needs(ppl);
  add_kv_cache_option(app, &a->kv_cache, "With --perplexity (MODEL's; the baseline keeps f32): ")->needs(ppl);
  app->get_option("--input")->excludes(ppl);
  app->get_option("--predictions")->excludes(ppl);
  app->get_option("--calibrate")->excludes(ppl);
  return {app, [a] {
            if (a->perplexity.empty()) return run_eval(*a);
            return run_perplexity_eval({.model = a->job.model, .baseline = a->baseline, .text_file = a->perplexity,
                                        .context = a->context, .stride = a->stride, .kv_cache = a->kv_cache,
                                        .floors = a->floors,
                                        .threads = a->job.threads, .quiet = a->quiet, .json = a->json});
          }};
}

}  // namespace sparq::tools
