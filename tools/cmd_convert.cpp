// sparq convert: a Hugging Face checkpoint directory, a GGUF file, a llama2.c model (or an
// existing .sparq file) -> one .sparq file, optionally pruned and re-encoded by a compression
// recipe.
#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>

#include "formats/encoding_spec.h"
#include "runtime/convert/compression_recipe.h"
#include "runtime/convert/gguf_import.h"
#include "runtime/convert/hf_import.h"
#include "runtime/convert/llama2c_import.h"
#include "runtime/convert/sparq_reencode.h"
#include "runtime/model/classifier_calibration.h"
#include "tools/command.h"
#include "tools/convert_calibration.h"
#include "tools/table.h"

namespace sparq::tools {
namespace {

struct ConvertArgs {
  std::string from;
  std::string input;
  std::string output;
  std::string tokenizer;  // --from llama2c: tokenizer.bin
  std::string weights = "f32";
  std::string embeddings = "f32";
  bool no_sparse = false;
  bool compress = false;
  bool json = false, quiet = false;
  bool weights_given = false, embeddings_given = false;
  // Compression: a recipe file, or the shorthand flags that make a one-rule recipe.
  std::string recipe;
  double prune = -1;
  std::string pattern = "unstructured", scope = "tensor", method = "magnitude", quantization = "rtn";
  std::vector<std::string> include, exclude;
  // Activation-aware pruning and quantization: the text the dense model runs over first.
  std::string calibration;
  size_t calibration_tokens = 0;
  // --from sparq: a classifier's calibration temperature to store.
  std::optional<double> temperature;
};

std::string command_line(const ConvertArgs& a) {
  std::string line = fmt::format("sparq convert --from {} {} -o {} --weights {} --embeddings {}{}{}", a.from, a.input,
                                 a.output, a.weights, a.embeddings, a.no_sparse ? " --no-sparse" : "",
                                 a.compress ? " --compress" : "");
  if (!a.tokenizer.empty()) line += " --tokenizer " + a.tokenizer;
  if (!a.recipe.empty()) line += " --recipe " + a.recipe;
  if (a.prune >= 0) {
    line += fmt::format(" --prune {} --pattern {} --prune-scope {} --prune-method {}", a.prune, a.pattern, a.scope,
                        a.method);
  }
  if (a.quantization != "rtn") line += " --quantization " + a.quantization;
  if (!a.calibration.empty()) {
    line += fmt::format(" --calibration {} --calibration-tokens {}", a.calibration, a.calibration_tokens);
  }
  for (const auto& i : a.include) line += " --include " + i;
  for (const auto& e : a.exclude) line += " --exclude " + e;
  if (a.temperature) line += fmt::format(" --temperature {}", *a.temperature);
  return line;
}

// The recipe: the file given, or the one rule the shorthand flags describe.
Result<std::optional<runtime::CompressionRecipe>> recipe_of(const ConvertArgs& a) {
  const bool prune_flags = a.pattern != "unstructured" || a.scope != "tensor" || a.method != "magnitude";
  const bool shorthand =
      a.prune >= 0 || !a.include.empty() || !a.exclude.empty() || prune_flags || a.quantization != "rtn";
  if (!a.recipe.empty() && shorthand) {
    return Error("--recipe and --prune/--pattern/--prune-scope/--prune-method/--quantization/--include/--exclude do "
                 "not go together: put everything in the recipe file",
                 ErrorKind::invalid_argument);
  }
  if (!a.recipe.empty()) {
    auto r = runtime::load_recipe(a.recipe);
    if (!r) return r.error();
    return std::optional(std::move(*r));
  }
  if (!shorthand) return std::optional<runtime::CompressionRecipe>();
  // --quantization gptq alone rounds the selected weights without pruning them.
  if (a.prune < 0 && (prune_flags || a.quantization == "rtn")) {
    return Error("--pattern, --prune-scope, --prune-method, --include and --exclude describe what --prune (or "
                 "--quantization gptq) does: give --prune SPARSITY",
                 ErrorKind::invalid_argument);
  }
  nlohmann::json rule = {{"match", "*"}, {"pattern", a.pattern}, {"sparsity", std::max(a.prune, 0.0)}};
  nlohmann::json doc = {{"scope", a.scope}, {"method", a.method}, {"quantization", a.quantization}, {"rules", {rule}}};
  if (!a.include.empty()) doc["include"] = a.include;
  if (!a.exclude.empty()) doc["exclude"] = a.exclude;
  auto r = runtime::recipe_from_json(doc, "command line");
  if (!r) return Error(r.error().message(), ErrorKind::invalid_argument);
  return std::optional(std::move(*r));
}

void print_compression(const std::vector<runtime::CompressedTensor>& tensors) {
  if (tensors.empty()) return;
  TextTable t({"pruned tensor", "rule", "pattern", "target", "achieved", "encoding", "bytes"},
              {TextTable::Align::left, TextTable::Align::right, TextTable::Align::left, TextTable::Align::right,
               TextTable::Align::right, TextTable::Align::left, TextTable::Align::right});
  for (const auto& c : tensors) {
    t.add_row({c.name, fmt::format("{}", c.rule), c.pattern, fmt::format("{:.2f}%", 100 * c.target_sparsity),
               fmt::format("{:.2f}%", 100 * c.sparsity), c.encoding, human_bytes(c.bytes)});
  }
  fmt::print("{}", t.render());
}

nlohmann::json compressed_json(const std::vector<runtime::CompressedTensor>& tensors) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : tensors) {
    list.push_back({{"name", c.name}, {"rule", c.rule}, {"pattern", c.pattern}, {"target_sparsity", c.target_sparsity},
                    {"sparsity", c.sparsity}, {"encoding", c.encoding}, {"bytes", c.bytes}});
  }
  return list;
}

// The calibration run for an activation-aware method, on the model before pruning: the
// .sparq input itself, or the source converted to a temporary dense f32 file first.
Status calibrate_recipe(const ConvertArgs& a, runtime::CompressionRecipe& recipe) {
  const bool needed = recipe.needs_calibration();
  if (!needed && a.calibration.empty()) return {};
  if (needed && a.calibration.empty()) {
    return Error("--prune-method wanda and sparsegpt and --quantization gptq work from the inputs each layer sees: "
                 "give --calibration FILE.txt",
                 ErrorKind::invalid_argument);
  }
  if (!needed) {
    return Error("--calibration feeds an activation-aware method: give --prune-method wanda or sparsegpt, or "
                 "--quantization gptq (or \"method\"/\"quantization\" in the recipe)",
                 ErrorKind::invalid_argument);
  }
  std::string dense = a.input;
  if (a.from != "sparq") {
    dense = fmt::format("{}.calibration-{}.sparq", a.output, getpid());
    runtime::HfImportOptions o;
    o.weights_given = o.embeddings_given = true;  // f32 throughout, as the values to prune are read
    o.command_line = "calibration model for " + command_line(a);
    auto converted = a.from == "gguf"      ? runtime::import_gguf(a.input, o, dense)
                     : a.from == "llama2c" ? runtime::import_llama2c(a.input, a.tokenizer, o, dense)
                                           : runtime::import_hf_checkpoint(a.input, o, dense);
    if (!converted) {
      std::filesystem::remove(dense);
      return converted.error();
    }
  }
  auto calibration = calibrate(dense, a.calibration, a.calibration_tokens, recipe.needs_grams());
  if (dense != a.input) std::filesystem::remove(dense);
  if (!calibration) return calibration.error();
  recipe.calibration = std::move(*calibration);
  return {};
}

Status run_reencode(const ConvertArgs& a, const runtime::CompressionRecipe* recipe) {
  runtime::ReencodeOptions o;
  o.recipe = recipe;
  o.temperature = a.temperature;
  if (a.weights_given) {
    auto weights = runtime::parse_dense_encoding(a.weights);
    if (!weights) return Error(weights.error().message(), ErrorKind::invalid_argument).within("--weights");
    o.weights = *weights;
  }
  o.compress = a.compress;
  o.command_line = command_line(a);
  auto summary = runtime::reencode_sparq(a.input, o, a.output);
  if (!summary) return summary.error();
  if (a.json) {
    nlohmann::json j = {{"output", a.output},
                        {"source_bytes", summary->source_bytes},
                        {"file_bytes", summary->file_bytes},
                        {"tensors", summary->tensors},
                        {"compression", compressed_json(summary->compressed)}};
    if (a.temperature) j["temperature"] = *a.temperature;
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("{} -> {}: {} tensors, {} re-encoded; {} -> {}\n", a.input, a.output, summary->tensors,
               summary->compressed.size(), human_bytes(summary->source_bytes), human_bytes(summary->file_bytes));
    print_compression(summary->compressed);
    if (a.temperature) fmt::print("calibration temperature {} stored\n", *a.temperature);
  }
  return {};
}

void print_table(const runtime::HfImportSummary& s, const std::string& output) {
  std::map<std::string, std::pair<size_t, uint64_t>> by_encoding;  // count, bytes
  size_t sparse = 0;
  uint64_t payload_bytes = 0;
  for (const auto& t : s.tensors) {
    payload_bytes += t.bytes;
    auto& [count, bytes] = by_encoding[t.encoding];
    count += 1;
    bytes += t.bytes;
    sparse += t.sparse_layout;
  }
  const nlohmann::json& arch = s.architecture;
  if (arch.value("name", "") == "llama") {
    fmt::print("{} ({}: {} layers, hidden {}, {} heads, {} KV heads, head_dim {}, vocab {}, context {}) -> {}\n",
               s.hf_architecture, arch.value("variant", "llama"), arch.value("num_layers", 0),
               arch.value("hidden_size", 0), arch.value("num_heads", 0), arch.value("num_kv_heads", 0),
               arch.value("head_dim", 0), arch.value("vocab_size", 0), arch.value("max_positions", 0), output);
  } else {
    fmt::print("{} ({}) -> {}\n", s.hf_architecture, arch.value("pooling", ""), output);
  }
  TextTable table({"encoding", "tensors", "bytes"},
                  {TextTable::Align::left, TextTable::Align::right, TextTable::Align::right});
  for (const auto& [encoding, cb] : by_encoding) {
    table.add_row({encoding, fmt::format("{}", cb.first), human_bytes(cb.second)});
  }
  table.add_separator();
  table.add_row({"total", fmt::format("{}", s.tensors.size()), human_bytes(payload_bytes)});
  fmt::print("{}", table.render());
  fmt::print("parameters {:.2f} M; source {} -> file {} ({:.2f}x); {} sparse tensor(s); max_tokens {}\n",
             s.parameters / 1e6, human_bytes(s.source_bytes), human_bytes(s.file_bytes),
             double(s.source_bytes) / double(std::max<uint64_t>(s.file_bytes, 1)), sparse, s.max_tokens);
  for (const auto& t : s.tensors) {
    if (t.sparse_layout) {
      fmt::print("  sparse: {} {} ({:.1f}% zeros, {})\n", t.name, t.encoding, 100 * t.sparsity, human_bytes(t.bytes));
    }
  }
  if (!s.labels.empty()) fmt::print("labels: {}\n", nlohmann::json(s.labels).dump());
  for (const auto& note : s.notes) fmt::print("note: {}\n", note);
  print_compression(s.compressed);
}

nlohmann::json summary_json(const runtime::HfImportSummary& s, const std::string& output) {
  nlohmann::json tensors = nlohmann::json::array(), sparse = nlohmann::json::array();
  std::map<std::string, size_t> counts;
  for (const auto& t : s.tensors) {
    tensors.push_back({{"name", t.name}, {"encoding", t.encoding}, {"sparsity", t.sparsity},
                       {"bytes", t.bytes}, {"elements", t.elements}});
    counts[t.encoding] += 1;
    if (t.sparse_layout) sparse.push_back(t.name);
  }
  return {{"output", output},           {"hf_architecture", s.hf_architecture},
          {"architecture", s.architecture}, {"labels", s.labels},
          {"max_tokens", s.max_tokens}, {"parameters", s.parameters},
          {"source_bytes", s.source_bytes}, {"file_bytes", s.file_bytes},
          {"encodings", counts},        {"sparse_tensors", sparse},
          {"tensors", tensors},
          {"compression", compressed_json(s.compressed)},
          {"notes", s.notes}};
}

Status run_convert(const ConvertArgs& a) {
  if (a.from != "hf" && a.from != "gguf" && a.from != "llama2c" && a.from != "sparq") {
    return Error(fmt::format("--from {}: unknown source format (hf, gguf, llama2c, sparq)", a.from),
                 ErrorKind::invalid_argument);
  }
  if (a.from == "llama2c" && a.tokenizer.empty()) {
    return Error("--from llama2c needs --tokenizer tokenizer.bin: a llama2.c model file holds no vocabulary",
                 ErrorKind::invalid_argument);
  }
  if (a.from != "llama2c" && !a.tokenizer.empty()) {
    return Error("--tokenizer is for --from llama2c (the other sources carry their tokenizer)",
                 ErrorKind::invalid_argument);
  }
  auto recipe = recipe_of(a);
  if (!recipe) return recipe.error();
  if (!*recipe && !a.calibration.empty()) {
    return Error("--calibration feeds activation-aware pruning or quantization: give --prune SPARSITY --prune-method "
                 "wanda|sparsegpt, or --quantization gptq",
                 ErrorKind::invalid_argument);
  }
  if (*recipe) {
    if (Status s = calibrate_recipe(a, **recipe); !s) return s;
  }
  if (a.temperature) {
    if (a.from != "sparq") {
      return Error("--temperature stores a calibration in an existing .sparq classifier: use it with --from sparq",
                   ErrorKind::invalid_argument);
    }
    if (auto t = runtime::checked_temperature(*a.temperature, "--temperature"); !t) return t.error();
  }
  if (a.from == "sparq") {
    if (!*recipe && !a.temperature) {
      return Error("--from sparq re-encodes by a recipe: give --recipe FILE or --prune SPARSITY (or --temperature T "
                   "to store a calibration only)",
                   ErrorKind::invalid_argument);
    }
    return run_reencode(a, *recipe ? &**recipe : nullptr);
  }
  runtime::HfImportOptions o;
  auto weights = runtime::parse_dense_encoding(a.weights);
  if (!weights) return Error(weights.error().message(), ErrorKind::invalid_argument).within("--weights");
  auto embeddings = formats::parse_encode_options(a.embeddings);
  if (!embeddings) return embeddings.error().within("--embeddings");
  if (Status s = runtime::check_embedding_encoding(*embeddings); !s) return s.error().within("--embeddings");
  o.weights = *weights;
  o.embeddings = *embeddings;
  o.weights_given = a.weights_given;
  o.embeddings_given = a.embeddings_given;
  o.keep_sparse = !a.no_sparse;
  o.compress = a.compress;
  o.command_line = command_line(a);
  if (*recipe) o.recipe = &**recipe;
  const bool progress = !a.quiet && isatty(STDERR_FILENO) != 0;
  if (progress) {
    o.on_tensor = [](const runtime::TensorReport& t, size_t index, size_t total) {
      fmt::print(stderr, "\r\033[K[{}/{}] {} {}", index + 1, total, t.name, t.encoding);
      if (index + 1 == total) fmt::print(stderr, "\n");
      std::fflush(stderr);
    };
  }
  auto summary = a.from == "gguf"      ? runtime::import_gguf(a.input, o, a.output)
                 : a.from == "llama2c" ? runtime::import_llama2c(a.input, a.tokenizer, o, a.output)
                                       : runtime::import_hf_checkpoint(a.input, o, a.output);
  if (!summary) {
    if (progress) fmt::print(stderr, "\n");
    return summary.error();
  }
  if (a.json) {
    fmt::print("{}\n", summary_json(*summary, a.output).dump(2));
  } else {
    print_table(*summary, a.output);
  }
  return {};
}

}  // namespace

Command add_convert_command(CLI::App& parent) {
  auto args = std::make_shared<ConvertArgs>();
  auto* app = parent.add_subcommand(
      "convert", "Convert a Hugging Face checkpoint, a GGUF file or a llama2.c model into a .sparq file, or re-encode "
                 "a .sparq file; optionally prune and quantize by a compression recipe");
  app->add_option("--from", args->from,
                  "Source format: hf (BERT family; Llama, Mistral, Qwen2 causal LMs), gguf (llama.cpp: llama, "
                  "qwen2), llama2c (with --tokenizer), or sparq (re-encode a .sparq file by a recipe)")
      ->required();
  app->add_option("input", args->input,
                  "Checkpoint directory (config.json, model.safetensors or its index, tokenizer; or a "
                  "sentence-transformers directory), the .gguf file, the llama2.c model .bin, or the .sparq file "
                  "with --from sparq")
      ->required();
  app->add_option("-o,--output", args->output, "Output .sparq file")->required();
  app->add_option("--tokenizer", args->tokenizer, "With --from llama2c: the tokenizer.bin the model was trained with");
  auto* weights = app->add_option("--weights", args->weights,
                                  "Linear weights: f32, f16, bf16, q8[:gN], q4[:GROUP][:asym] (--from sparq: the "
                                  "re-encoded tensors' encoding; default: their own; --from gguf/llama2c: default "
                                  "keeps blocks a sparq encoding holds exactly, e.g. Q8_0 as q8:g32)")
                      ->capture_default_str();
  app->add_option("--recipe", args->recipe,
                  "Compression recipe (JSON, or YAML): tensor-name patterns -> sparsity, pattern, encoding; see "
                  "models/recipes/")
      ->check(CLI::ExistingFile);
  app->add_option("--prune", args->prune, "Prune the selected matrices to this sparsity (a one-rule recipe)")
      ->check(CLI::Range(0.0, 1.0));
  app->add_option("--pattern", args->pattern,
                  "With --prune: unstructured, a block shape (4x4, 16x1, 8x1, 1x8, 4x1, 1x4) or N:M (2:4, with --prune 0.5)")
      ->capture_default_str();
  app->add_option("--prune-scope", args->scope, "With --prune: tensor (each to the sparsity) or global (one threshold)")
      ->check(CLI::IsMember({"tensor", "global"}))
      ->capture_default_str();
  app->add_option("--prune-method", args->method,
                  "With --prune: magnitude (|w|), wanda (|w|·‖x‖ per input column, compared within each output "
                  "row) or sparsegpt (pruned column by column, the error moved onto the columns not yet done); "
                  "wanda and sparsegpt need --calibration")
      ->check(CLI::IsMember({"magnitude", "wanda", "sparsegpt"}))
      ->capture_default_str();
  app->add_option("--quantization", args->quantization,
                  "How q8/q4 weights are rounded: rtn (to nearest) or gptq (column by column, each error moved onto "
                  "the columns not yet done; needs --calibration and --weights q8 or symmetric q4; alone, it "
                  "rounds every selected matrix without pruning)")
      ->check(CLI::IsMember({"rtn", "gptq"}))
      ->capture_default_str();
  app->add_option("--calibration", args->calibration,
                  "Text the dense decoder runs over first, for --prune-method wanda|sparsegpt and --quantization "
                  "gptq (or a recipe's \"method\"/\"quantization\"); its SHA-256 goes in the file's provenance")
      ->check(CLI::ExistingFile);
  app->add_option("--calibration-tokens", args->calibration_tokens,
                  "With --calibration: use the first N tokens of the text (0: all)")
      ->capture_default_str();
  app->add_option("--include", args->include,
                  "With --prune, repeatable: prune only tensors matching this glob (may name embeddings, pooler, "
                  "classifier)");
  app->add_option("--exclude", args->exclude, "With --prune, repeatable: never prune tensors matching this glob");
  auto* embeddings = app->add_option("--embeddings", args->embeddings,
                                     "Embedding tables: f32, f16, bf16, q8 (--from gguf/llama2c: default keeps exact "
                                     "blocks as --weights does)")
                         ->capture_default_str();
  app->add_option("--temperature", args->temperature,
                  "With --from sparq: store this calibration temperature in a classifier (probabilities become "
                  "softmax(logits / T); fit one with `sparq eval --calibrate`); alone, every tensor is copied as is")
      ->type_name("T");
  app->add_flag("--no-sparse", args->no_sparse, "Store linear weights dense even when they hold zeros");
  app->add_flag("--compress", args->compress, "zstd-compress each tensor where it saves space");
  add_json_flag(app, &args->json, "the summary (tensors, encodings, sizes, compression)");
  app->add_flag("--quiet,-q", args->quiet, "No progress on stderr");
  Command c;
  c.app = app;
  c.run = [args, weights, embeddings] {
    args->weights_given = weights->count() > 0;
    args->embeddings_given = embeddings->count() > 0;
    return run_convert(*args);
  };
  return c;
}

}  // namespace sparq::tools
