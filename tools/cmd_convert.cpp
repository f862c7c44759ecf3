// sparq convert: a Hugging Face checkpoint directory -> one .sparq file.
#include <fmt/core.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "formats/encoding_spec.h"
#include "runtime/hf_import.h"
#include "tools/command.h"
#include "tools/table.h"

namespace sparq::tools {
namespace {

struct ConvertArgs {
  std::string from;
  std::string input;
  std::string output;
  std::string weights = "f32";
  std::string embeddings = "f32";
  bool no_sparse = false;
  bool compress = false;
  bool json = false;
};

// Accepts the group size as "q4:64" as well as the canonical "q4:g64".
Result<formats::EncodeOptions> parse_weights(const std::string& spec) {
  if (size_t colon = spec.find(':'); colon != std::string::npos && colon + 1 < spec.size() &&
                                     std::isdigit(static_cast<unsigned char>(spec[colon + 1]))) {
    return formats::parse_encode_options(spec.substr(0, colon + 1) + "g" + spec.substr(colon + 1));
  }
  return formats::parse_encode_options(spec);
}

std::string command_line(const ConvertArgs& a) {
  return fmt::format("sparq convert --from {} {} -o {} --weights {} --embeddings {}{}{}", a.from, a.input, a.output,
                     a.weights, a.embeddings, a.no_sparse ? " --no-sparse" : "", a.compress ? " --compress" : "");
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
    sparse += t.encoding.starts_with("csr") || t.encoding.starts_with("bsr");
  }
  fmt::print("{} ({}) -> {}\n", s.hf_architecture, s.architecture.value("pooling", ""), output);
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
    if (t.encoding.starts_with("csr") || t.encoding.starts_with("bsr")) {
      fmt::print("  sparse: {} {} ({:.1f}% zeros, {})\n", t.name, t.encoding, 100 * t.sparsity, human_bytes(t.bytes));
    }
  }
  if (!s.labels.empty()) fmt::print("labels: {}\n", nlohmann::json(s.labels).dump());
  for (const auto& note : s.notes) fmt::print("note: {}\n", note);
}

nlohmann::json summary_json(const runtime::HfImportSummary& s, const std::string& output) {
  nlohmann::json tensors = nlohmann::json::array(), sparse = nlohmann::json::array();
  std::map<std::string, size_t> counts;
  for (const auto& t : s.tensors) {
    tensors.push_back({{"name", t.name}, {"encoding", t.encoding}, {"sparsity", t.sparsity},
                       {"bytes", t.bytes}, {"elements", t.elements}});
    counts[t.encoding] += 1;
    if (t.encoding.starts_with("csr") || t.encoding.starts_with("bsr")) sparse.push_back(t.name);
  }
  return {{"output", output},           {"hf_architecture", s.hf_architecture},
          {"architecture", s.architecture}, {"labels", s.labels},
          {"max_tokens", s.max_tokens}, {"parameters", s.parameters},
          {"source_bytes", s.source_bytes}, {"file_bytes", s.file_bytes},
          {"encodings", counts},        {"sparse_tensors", sparse},
          {"tensors", tensors},
          {"notes", s.notes}};
}

Status run_convert(const ConvertArgs& a) {
  if (a.from == "gguf" || a.from == "llama2c") {
    return Error(fmt::format("--from {}: not supported yet (only hf)", a.from), ExitCode::unsupported);
  }
  if (a.from != "hf") return Error(fmt::format("--from {}: unknown source format (hf)", a.from), ExitCode::usage);
  runtime::HfImportOptions o;
  auto weights = parse_weights(a.weights);
  if (!weights) return weights.error().within("--weights");
  auto embeddings = formats::parse_encode_options(a.embeddings);
  if (!embeddings) return embeddings.error().within("--embeddings");
  o.weights = *weights;
  o.embeddings = *embeddings;
  o.keep_sparse = !a.no_sparse;
  o.compress = a.compress;
  o.command_line = command_line(a);
  const bool progress = isatty(STDERR_FILENO) != 0;
  if (progress) {
    o.on_tensor = [](const runtime::HfTensorReport& t, size_t index, size_t total) {
      fmt::print(stderr, "\r\033[K[{}/{}] {} {}", index + 1, total, t.name, t.encoding);
      if (index + 1 == total) fmt::print(stderr, "\n");
      std::fflush(stderr);
    };
  }
  auto summary = runtime::import_hf_checkpoint(a.input, o, a.output);
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
  auto* app = parent.add_subcommand("convert", "Convert a Hugging Face checkpoint into a .sparq file");
  app->add_option("--from", args->from, "Source format: hf (gguf and llama2c are not supported yet)")->required();
  app->add_option("input", args->input,
                  "Checkpoint directory (config.json, model.safetensors or its index, tokenizer; or a "
                  "sentence-transformers directory)")
      ->required();
  app->add_option("-o,--output", args->output, "Output .sparq file")->required();
  app->add_option("--weights", args->weights, "Linear weights: f32, f16, bf16, q8[:gN], q4[:GROUP][:asym]")
      ->capture_default_str();
  app->add_option("--embeddings", args->embeddings, "Embedding tables: f32, f16, bf16, q8")->capture_default_str();
  app->add_flag("--no-sparse", args->no_sparse, "Store linear weights dense even when they hold zeros");
  app->add_flag("--compress", args->compress, "zstd-compress each tensor where it saves space");
  app->add_flag("--json", args->json, "Print the summary as JSON");
  Command c;
  c.app = app;
  c.run = [args] { return run_convert(*args); };
  return c;
}

}  // namespace sparq::tools
