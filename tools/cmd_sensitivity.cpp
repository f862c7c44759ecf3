// sparq sensitivity: how much a classifier's quality drops when one group of its weight
// matrices (a layer, a tensor, or one kind of tensor across layers) is pruned, for several
// sparsities, to choose a compression recipe. Each cell re-encodes the model with a
// one-rule recipe (what `sparq convert --from sparq --recipe` does) and evaluates it (what
// `sparq eval` does) on the labelled documents.
#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <unistd.h>

#include "formats/sparq_reader.h"
#include "runtime/jobs/classification_metrics.h"
#include "runtime/convert/compression_recipe.h"
#include "runtime/convert/sparq_reencode.h"
#include "tools/command.h"
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

namespace fs = std::filesystem;
using nlohmann::json;

struct SensitivityArgs {
  DocumentJobOptions job;
  bool quiet = false, json = false;
  std::string label_field = "label";
  std::vector<double> sparsities = {0.5, 0.7, 0.8, 0.9};
  std::string pattern = "unstructured", groups = "layer", metric = "accuracy";
  size_t limit = 0;
  std::string write_recipe;
  double max_drop = -1;
};

// One group of prunable tensors and the recipe pattern that selects exactly it.
struct Group {
  std::string name, match;
  std::vector<std::string> tensors;
};

// layer: "layers.3.*"; kind: "layers.*.ffn.up.weight"; tensor: the name. Tensors outside
// the numbered layers form their own group whatever the grouping.
std::vector<Group> make_groups(const std::vector<std::string>& prunable, const std::string& by) {
  static const std::regex layer_re(R"(^layers\.(\d+)\.(.*)$)");
  std::map<std::string, Group> groups;
  std::vector<std::string> order;
  for (const std::string& name : prunable) {
    std::smatch m;
    std::string key = name;
    if (std::regex_match(name, m, layer_re)) {
      if (by == "layer") key = "layers." + m[1].str() + ".*";
      if (by == "kind") key = "layers.*." + m[2].str();
    }
    if (!groups.count(key)) {
      order.push_back(key);
      std::string shown = key;
      if (by == "layer" && key.ends_with(".*")) shown = key.substr(0, key.size() - 2);
      groups[key] = Group{shown, key, {}};
    }
    groups[key].tensors.push_back(name);
  }
  std::vector<Group> out;
  for (const std::string& k : order) out.push_back(groups[k]);
  return out;
}

// The first `limit` (0: all) records of a JSONL / text file or of stdin, copied: every cell
// reads the documents again, which standard input cannot give twice.
Result<std::string> limited_copy(const std::string& input, size_t limit, const std::string& dir) {
  std::ifstream file;
  if (input != "-") {
    file.open(input, std::ios::binary);
    if (!file) return Error(fmt::format("{}: cannot open", input));
  }
  std::istream& in = input == "-" ? std::cin : file;
  const std::string path =
      (fs::path(dir) / ("documents" + (input == "-" ? ".jsonl" : fs::path(input).extension().string()))).string();
  std::ofstream out(path, std::ios::binary);
  std::string line;
  for (size_t n = 0; (limit == 0 || n < limit) && std::getline(in, line);) {
    out << line << '\n';
    n += !line.empty();
  }
  if (!out) return Error(fmt::format("{}: cannot write", path));
  return path;
}

Result<double> metric_of(const ModelRun& run, const std::string& metric) {
  if (run.ok_index.empty()) return Error(fmt::format("{}: no document could be evaluated", run.path));
  runtime::ClassificationMetrics m = runtime::classification_metrics(run.labels, run.gold, run.predicted);
  return metric == "macro_f1" ? m.macro_f1 : m.accuracy;
}

Status write_text(const std::string& path, const std::string& text) {
  auto out = OutputFile::create(path);
  if (!out) return out.error();
  if (Status s = (*out)->write(text); !s) return s;
  return (*out)->commit();
}

struct Cell {
  const Group* group;
  double sparsity, metric, drop;
};

Status run_sensitivity(SensitivityArgs a) {
  if (a.sparsities.empty()) return Error("--sparsities: give at least one value", ErrorKind::invalid_argument);
  for (double s : a.sparsities) {
    if (!(s >= 0 && s <= 1)) return Error(fmt::format("--sparsities: {} is not in [0, 1]", s), ErrorKind::invalid_argument);
  }
  auto pattern = runtime::parse_prune_pattern(a.pattern);
  if (!pattern) return Error(pattern.error().message(), ErrorKind::invalid_argument).within("--pattern");
  if (pattern->fixed_sparsity() >= 0) a.sparsities = {pattern->fixed_sparsity()};
  if (!a.write_recipe.empty() && !(a.max_drop >= 0)) {
    return Error("--write-recipe picks per group the highest sparsity within --max-drop: give --max-drop", ErrorKind::invalid_argument);
  }

  auto reader = formats::SparqReader::open(a.job.model);
  if (!reader) return reader.error();
  std::vector<std::string> prunable;
  for (const auto& t : (*reader)->tensors()) {
    if (t.desc.dims.size() == 2 && !runtime::excluded_by_default(t.desc.name)) prunable.push_back(t.desc.name);
  }
  reader->reset();
  if (prunable.empty()) return Error(fmt::format("{}: no prunable weight matrix", a.job.model));
  const std::vector<Group> groups = make_groups(prunable, a.groups);

  std::error_code ec;
  const fs::path work = fs::temp_directory_path(ec) / fmt::format("sparq-sensitivity-{}", ::getpid());
  fs::create_directories(work, ec);
  if (ec) return Error(fmt::format("{}: cannot create: {}", work.string(), ec.message()));
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code e;
      fs::remove_all(dir, e);
    }
  } cleanup{work};

  EvaluationRequest request;
  request.job = a.job;
  request.label_field = a.label_field;
  request.expect_classifier = true;
  if (a.limit > 0 || a.job.input == "-") {
    auto limited = limited_copy(a.job.input, a.limit, work.string());
    if (!limited) return limited.error();
    request.job.input = *limited;
  }

  auto base_run = run_labelled_documents(request, a.job.model);
  if (!base_run) return base_run.error();
  auto baseline = metric_of(*base_run, a.metric);
  if (!baseline) return baseline.error();
  if (!a.quiet) {
    fmt::print(stderr, "{}: {} {:.4f} on {} documents; {} groups x {} sparsities\n", a.job.model, a.metric, *baseline,
               base_run->ok_index.size(), groups.size(), a.sparsities.size());
  }

  std::vector<Cell> cells;
  const std::string candidate = (work / "candidate.sparq").string();
  const size_t total = groups.size() * a.sparsities.size();
  for (const Group& g : groups) {
    for (double s : a.sparsities) {
      json rule = {{"match", g.match}, {"sparsity", s}, {"pattern", pattern->to_string()}};
      auto recipe = runtime::recipe_from_json({{"rules", {rule}}}, fmt::format("sensitivity group {}", g.name));
      if (!recipe) return recipe.error();
      runtime::ReencodeOptions o;
      o.recipe = &*recipe;
      o.command_line = "sparq sensitivity";
      auto reencoded = runtime::reencode_sparq(a.job.model, o, candidate);
      if (!reencoded) return reencoded.error();
      auto run = run_labelled_documents(request, candidate);
      if (!run) return run.error();
      auto value = metric_of(*run, a.metric);
      if (!value) return value.error();
      cells.push_back({&g, s, *value, *baseline - *value});
      if (!a.quiet) {
        fmt::print(stderr, "[{}/{}] {} at {:.2f}: {} {:.4f} ({:+.4f})\n", cells.size(), total, g.name, s, a.metric,
                   *value, *value - *baseline);
      }
    }
  }

  json rows = json::array();
  for (const Cell& c : cells) {
    rows.push_back({{"group", c.group->name}, {"match", c.group->match}, {"tensors", c.group->tensors},
                    {"sparsity", c.sparsity}, {"metric", c.metric}, {"drop", c.drop}});
  }
  json report = {{"model", a.job.model},   {"data", a.job.input},     {"examples", base_run->ok_index.size()},
                 {"metric", a.metric},     {"pattern", pattern->to_string()}, {"groups", a.groups},
                 {"sparsities", a.sparsities}, {"baseline", *baseline},  {"rows", rows}};

  if (!a.write_recipe.empty()) {
    json rules = json::array();
    for (const Group& g : groups) {
      double best = 0;
      for (const Cell& c : cells) {
        if (c.group == &g && c.drop <= a.max_drop) best = std::max(best, c.sparsity);
      }
      if (best > 0) rules.push_back({{"match", g.match}, {"sparsity", best}, {"pattern", pattern->to_string()}});
    }
    if (rules.empty()) {
      return Error(fmt::format("--write-recipe: no group stays within a drop of {} at any sparsity above 0", a.max_drop),
                   ErrorKind::below_floor);
    }
    json recipe = {{"scope", "tensor"}, {"rules", rules}};
    if (Status s = write_text(a.write_recipe, recipe.dump(2) + "\n"); !s) return s;
    report["recipe"] = recipe;
  }
  if (a.json) {
    fmt::print("{}\n", report.dump(2));
  } else {
    std::vector<std::string> header = {"group", "tensors"};
    std::vector<TextTable::Align> align = {TextTable::Align::left, TextTable::Align::right};
    for (double s : a.sparsities) {
      header.push_back(fmt::format("{:.0f}%", 100 * s));
      align.push_back(TextTable::Align::right);
    }
    TextTable t(header, align);
    for (const Group& g : groups) {
      std::vector<std::string> row = {g.name, fmt::format("{}", g.tensors.size())};
      for (const Cell& c : cells) {
        if (c.group == &g) row.push_back(fmt::format("{:.4f} ({:+.4f})", c.metric, c.metric - *baseline));
      }
      t.add_row(row);
    }
    fmt::print("{} {} {:.4f} unpruned; {} pruning, one group at a time: {} (change)\n", a.job.model, a.metric,
               *baseline, pattern->to_string(), a.metric);
    fmt::print("{}", t.render());
    if (!a.write_recipe.empty()) fmt::print("recipe (max drop {}) written to {}\n", a.max_drop, a.write_recipe);
  }
  return {};
}

}  // namespace

Command add_sensitivity_command(CLI::App& parent) {
  auto a = std::make_shared<SensitivityArgs>();
  CLI::App* app = parent.add_subcommand(
      "sensitivity",
      "Prune one group of weight matrices at a time (per layer, tensor or kind) at several sparsities and report the "
      "quality drop on labelled documents, to choose a compression recipe (--write-recipe picks one).");
  add_document_job_options(app, &a->job, &a->quiet);
  app->remove_option(app->get_option("--output"));
  app->get_option("--input")->description("Labelled documents (JSONL/CSV with a label field)");
  app->add_option("--label-field", a->label_field, "JSONL field / CSV column of the gold label")->capture_default_str();
  app->add_option("--sparsities", a->sparsities, "Sparsities to try, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--pattern", a->pattern, "unstructured, a block shape (4x4, 16x1, 8x1, 1x8, 4x1, 1x4) or N:M (2:4)")
      ->capture_default_str();
  app->add_option("--groups", a->groups, "What is pruned together: layer, tensor or kind (one tensor across layers)")
      ->check(CLI::IsMember({"layer", "tensor", "kind"}))
      ->capture_default_str();
  app->add_option("--metric", a->metric, "accuracy or macro_f1")
      ->check(CLI::IsMember({"accuracy", "macro_f1"}))
      ->capture_default_str();
  app->add_option("--limit", a->limit, "Evaluate on the first N documents only (JSONL / text input, one per line)");
  add_json_flag(app, &a->json, "the report (every cell, and the recipe with --write-recipe)");
  app->add_option("--write-recipe", a->write_recipe,
                  "Write a recipe (JSON) with, per group, the highest sparsity whose drop is at most --max-drop");
  app->add_option("--max-drop", a->max_drop, "With --write-recipe: the largest metric drop accepted (e.g. 0.01)");
  return {app, [a] { return run_sensitivity(*a); }};
}

}  // namespace sparq::tools
