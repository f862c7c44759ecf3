// sparq synth: a model-shaped .sparq file with random weights.
#include <fmt/core.h>

#include <charconv>
#include <cstdio>

#include "formats/encoding_spec.h"
#include "runtime/model/model_schema.h"
#include "runtime/convert/synthetic_model.h"
#include "tools/command.h"

namespace sparq::tools {
namespace {

struct SynthArgs {
  std::string arch;
  std::string preset;
  std::vector<std::string> config;
  std::string weights = "f32";
  std::string embeddings = "f32";
  double sparsity = 0.0;
  bool compress = false, quiet = false, json = false;
  std::string output;
  uint64_t seed = 0;
};

// "12" -> 12, "1e-5" -> 1e-5, "true" -> true, anything else stays a string.
nlohmann::json parse_value(const std::string& text) {
  int64_t i = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
  if (ec == std::errc() && p == text.data() + text.size()) return i;
  double d = 0;
  auto [q, ec2] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (ec2 == std::errc() && q == text.data() + text.size()) return d;
  if (text == "true" || text == "false") return text == "true";
  return text;
}

Status run_synth(const SynthArgs& a, const std::string& command_line) {
  std::string preset = a.preset.empty() ? (a.arch == "bert" ? "bert-base" : "tinyllama-1.1b") : a.preset;
  Result<nlohmann::json> arch = runtime::architecture_preset(a.arch, preset);
  if (!arch) return arch.error();
  for (const std::string& kv : a.config) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Error(fmt::format("--config '{}': expected KEY=VALUE", kv), ErrorKind::invalid_argument);
    }
    (*arch)[kv.substr(0, eq)] = parse_value(kv.substr(eq + 1));
  }
  runtime::SynthOptions o;
  o.architecture = *arch;
  auto weights = formats::parse_encode_options(a.weights);
  if (!weights) return weights.error().within("--weights");
  auto embeddings = formats::parse_encode_options(a.embeddings);
  if (!embeddings) return embeddings.error().within("--embeddings");
  o.weights = *weights;
  o.embeddings = *embeddings;
  o.sparsity = a.sparsity;
  o.compress = a.compress;
  o.seed = a.seed;
  o.command_line = command_line;
  Result<runtime::SynthSummary> s = runtime::write_synthetic_model(o, a.output);
  if (!s) return s.error();
  if (a.json) {
    nlohmann::ordered_json j = {{"output", a.output},         {"arch", a.arch},       {"preset", preset},
                                {"tensors", s->tensors},      {"parameters", s->parameters},
                                {"file_bytes", s->file_bytes}};
    fmt::print("{}\n", j.dump(2));
  } else if (!a.quiet) {
    fmt::print(stderr, "wrote {}: {} tensors, {:.1f} M parameters, {:.1f} MB\n", a.output, s->tensors,
               s->parameters / 1e6, s->file_bytes / 1e6);
  }
  return {};
}

}  // namespace

Command add_synth_command(CLI::App& parent) {
  auto args = std::make_shared<SynthArgs>();
  auto* app = parent.add_subcommand(
      "synth", "Write a model-shaped .sparq file with random weights (for tests and benchmarks).");
  app->add_option("--arch", args->arch, "Model family")->required()->check(CLI::IsMember({"bert", "llama"}));
  app->add_option("--preset", args->preset,
                  "Shape preset: bert-base (default), bert-tiny; tinyllama-1.1b (default), llama-tiny");
  app->add_option("--config", args->config,
                  "Override a hyper-parameter, KEY=VALUE (e.g. num_layers=2); repeatable");
  app->add_option("--weights", args->weights,
                  "Encoding of linear weights: f32, f16, bf16, q8[:gN], q4[:gN][:asym], csr:V, bsr:V:RxC, "
                  "bitmap:q8|q4[:gN]")
      ->capture_default_str();
  app->add_option("--embeddings", args->embeddings, "Encoding of embedding tables: f32, f16, q8")
      ->capture_default_str();
  app->add_option("--sparsity", args->sparsity,
                  "Fraction of linear weights (blocks, for bsr) set to zero; dense encodings become csr")
      ->check(CLI::Range(0.0, 0.999));
  app->add_flag("--compress", args->compress, "zstd-compress each tensor where it saves space");
  app->add_option("-o,--output", args->output, "Output .sparq file")->required();
  app->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  app->add_flag("--quiet,-q", args->quiet, "No summary on stderr");
  add_json_flag(app, &args->json, "the summary (output, tensors, parameters, bytes)");
  Command c;
  c.app = app;
  c.run = [args] {
    std::string line = "sparq synth";
    for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
             {"--arch", args->arch}, {"--preset", args->preset}, {"--weights", args->weights},
             {"--embeddings", args->embeddings}}) {
      if (!value.empty()) line += " " + name + " " + value;
    }
    for (const auto& kv : args->config) line += " --config " + kv;
    line += fmt::format(" --sparsity {} --seed {}{}", args->sparsity, args->seed, args->compress ? " --compress" : "");
    return run_synth(*args, line);
  };
  return c;
}

}  // namespace sparq::tools
