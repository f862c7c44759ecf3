// sparq inspect: what a .sparq file holds and how well it is compressed; with --tensor, one
// tensor's decoded values as a float32 .npy matrix.
#include <fmt/core.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "formats/sparq_reader.h"
#include "formats/tensor_codec.h"
#include "tools/command.h"
#include "tools/npy_f32_matrix.h"
#include "tools/table.h"

namespace sparq::tools {
namespace {

struct InspectArgs {
  std::string model;
  bool json = false;
  std::string tensor, npy;  // --tensor NAME --npy FILE
};

struct TensorStats {
  uint64_t elements, stored_entries, disk_bytes, f32_bytes;
  double sparsity() const { return elements ? 1.0 - double(stored_entries) / double(elements) : 0.0; }
};

TensorStats stats_of(const formats::TensorView& t) {
  uint64_t elements = t.desc.elements();
  return {elements, formats::stored_entries(t.desc), t.stored_size, elements * 4};
}

// The "compression" record (formats/SPEC.md): the recipe, and what it achieved per tensor.
void print_compression(const nlohmann::json& c) {
  fmt::print("\ncompression recipe ({}): {}\n", c.value("source", ""), c.value("recipe", nlohmann::json()).dump());
  if (!c.contains("tensors") || !c["tensors"].is_array()) return;
  TextTable table({"tensor", "rule", "pattern", "target", "achieved", "encoding", "bytes"},
                  {TextTable::Align::left, TextTable::Align::right, TextTable::Align::left, TextTable::Align::right,
                   TextTable::Align::right, TextTable::Align::left, TextTable::Align::right});
  for (const auto& t : c["tensors"]) {
    if (!t.is_object()) continue;
    table.add_row({t.value("name", ""), fmt::format("{}", t.value("rule", -1)), t.value("pattern", ""),
                   fmt::format("{:.2f}%", 100 * t.value("target_sparsity", 0.0)),
                   fmt::format("{:.2f}%", 100 * t.value("sparsity", 0.0)), t.value("encoding", ""),
                   human_bytes(t.value("bytes", uint64_t{0}))});
  }
  fmt::print("{}", table.render());
}

// What kind of tokenizer a tokenizer.json object is, in a few words.
std::string tokenizer_kind(const nlohmann::json& t) {
  if (!t.is_object() || !t.contains("model") || !t["model"].is_object()) return "present";
  const nlohmann::json& m = t["model"];
  const std::string type = m.value("type", "");
  if (type == "WordPiece") return "WordPiece";
  if (type != "BPE") return type.empty() ? "present" : type;
  const bool byte_fallback = m.value("byte_fallback", false);
  const std::string dump = t.value("pre_tokenizer", nlohmann::json()).dump();
  const std::string words = m.contains("vocab") && m["vocab"].is_object() ? fmt::format(", {} tokens", m["vocab"].size()) : "";
  if (byte_fallback) return "SentencePiece-style BPE (byte fallback)" + words;
  if (dump.find("ByteLevel") != std::string::npos) return "byte-level BPE" + words;
  return "BPE" + words;
}

// A decoder's shape on one line, and its generation settings.
void print_decoder(const nlohmann::json& meta) {
  const nlohmann::json& a = meta["architecture"];
  fmt::print("decoder: {} ({}), {} layers, hidden {}, {} heads, {} KV heads, head_dim {}, ffn {}, vocab {}, context {}, "
             "rope_theta {}{}{}{}\n",
             a.value("name", ""), a.value("variant", ""), a.value("num_layers", 0), a.value("hidden_size", 0),
             a.value("num_heads", 0), a.value("num_kv_heads", 0), a.value("head_dim", 0),
             a.value("intermediate_size", 0), a.value("vocab_size", 0), a.value("max_positions", 0),
             a.value("rope_theta", 0.0), a.value("rope_scaling", "none") == "none" ? "" : ", RoPE scaling llama3",
             a.value("attention_bias", false) ? ", q/k/v biases" : "",
             a.value("tie_embeddings", false) ? ", tied embeddings" : "");
  if (!meta.contains("generation")) return;
  nlohmann::json g = meta["generation"];
  const size_t template_bytes = g.value("chat_template", "").size();
  g.erase("chat_template");  // often kilobytes of Jinja: its size says whether there is one
  fmt::print("generation: {} (chat template: {})\n", g.dump(),
             template_bytes ? fmt::format("{} bytes", template_bytes) : std::string("none"));
}

// The values tensor `name` decodes to, rows x last dimension (a vector: one row), as the
// kernels see them.
Status write_decoded(const formats::SparqReader& r, const std::string& name, const std::string& path) {
  const formats::TensorView* t = r.find(name);
  if (t == nullptr) {
    return Error(fmt::format("{}: no tensor '{}' (`sparq inspect {}` lists them)", r.path(), name, r.path()),
                 ErrorKind::invalid_argument);
  }
  auto values = formats::decode_tensor(t->desc, t->payload);
  if (!values) return values.error().within(fmt::format("{}: tensor '{}'", r.path(), name));
  const uint64_t cols = t->desc.dims.empty() ? 1 : t->desc.dims.back();
  std::ofstream out(path, std::ios::binary);
  out << npy_f32_header(values->size() / std::max<uint64_t>(cols, 1), cols);
  out.write(reinterpret_cast<const char*>(values->data()), std::streamsize(values->size() * sizeof(float)));
  if (!out.flush()) return Error(fmt::format("--npy {}: cannot write", path), ErrorKind::invalid_argument);
  return {};
}

Status run_inspect(const InspectArgs& a) {
  auto reader = formats::SparqReader::open(a.model);
  if (!reader) return reader.error();
  const auto& r = **reader;
  if (a.tensor.empty() != a.npy.empty()) {
    return Error("--tensor NAME and --npy FILE go together: the tensor's decoded values are written to the file",
                 ErrorKind::invalid_argument);
  }
  if (!a.tensor.empty()) return write_decoded(r, a.tensor, a.npy);

  TensorStats total{0, 0, 0, 0};
  nlohmann::json tensors = nlohmann::json::array();
  TextTable table({"tensor", "shape", "encoding", "sparsity", "on disk", "as f32", "ratio"},
                  {TextTable::Align::left, TextTable::Align::left, TextTable::Align::left,
                   TextTable::Align::right, TextTable::Align::right, TextTable::Align::right,
                   TextTable::Align::right});
  for (const auto& t : r.tensors()) {
    TensorStats s = stats_of(t);
    total.elements += s.elements;
    total.stored_entries += s.stored_entries;
    total.disk_bytes += s.disk_bytes;
    total.f32_bytes += s.f32_bytes;
    const std::string encoding = formats::stored_encoding_string(t.desc, t.compression);
    double ratio = double(s.f32_bytes) / double(std::max<uint64_t>(s.disk_bytes, 1));
    tensors.push_back({{"name", t.desc.name}, {"shape", t.desc.dims}, {"encoding", encoding},
                       {"elements", s.elements}, {"stored_entries", s.stored_entries},
                       {"sparsity", s.sparsity()}, {"bytes_on_disk", s.disk_bytes},
                       {"bytes_as_f32", s.f32_bytes}, {"compression_ratio", ratio},
                       {"offset", t.offset}});
    table.add_row({t.desc.name, t.desc.shape_string(), encoding, fmt::format("{:.1f}%", 100 * s.sparsity()),
                   human_bytes(s.disk_bytes), human_bytes(s.f32_bytes), fmt::format("{:.2f}x", ratio)});
  }
  double ratio = double(total.f32_bytes) / double(std::max<uint64_t>(total.disk_bytes, 1));
  double bytes_per_param = double(total.disk_bytes) / double(std::max<uint64_t>(total.elements, 1));
  nlohmann::json totals = {{"tensors", r.tensors().size()},
                           {"parameters", total.elements},
                           {"stored_entries", total.stored_entries},
                           {"sparsity", total.sparsity()},
                           {"bytes_on_disk", total.disk_bytes},
                           {"bytes_as_f32", total.f32_bytes},
                           {"file_bytes", r.header().file_size},
                           {"compression_ratio", ratio},
                           {"bytes_per_parameter", bytes_per_param}};

  if (a.json) {
    nlohmann::json out = {{"file", a.model},
                          {"format_version", fmt::format("{}.{}", r.header().version_major, r.header().version_minor)},
                          {"metadata", r.metadata()},
                          {"tensors", tensors},
                          {"totals", totals}};
    fmt::print("{}\n", out.dump(2));
    return {};
  }

  const auto& meta = r.metadata();
  fmt::print("{}  (sparq format {}.{}, written by sparq {} on {})\n", a.model, r.header().version_major,
             r.header().version_minor, meta["sparq_version"].get<std::string>(),
             meta["created_utc"].get<std::string>());
  fmt::print("architecture: {}\n", meta["architecture"].dump());
  if (meta["architecture"].value("name", "") == "llama") print_decoder(meta);
  if (meta.contains("labels")) fmt::print("labels ({}): {}\n", meta["labels"].size(), meta["labels"].dump());
  if (meta.contains("calibration")) fmt::print("calibration: {}\n", meta["calibration"].dump());
  if (meta.contains("tokenizer")) fmt::print("tokenizer: {}\n", tokenizer_kind(meta["tokenizer"]));
  if (meta.contains("provenance")) fmt::print("provenance: {}\n", meta["provenance"].dump());
  fmt::print("\n");
  table.add_separator();
  table.add_row({fmt::format("total ({} tensors)", r.tensors().size()), "", "",
                 fmt::format("{:.1f}%", 100 * total.sparsity()), human_bytes(total.disk_bytes),
                 human_bytes(total.f32_bytes), fmt::format("{:.2f}x", ratio)});
  fmt::print("{}", table.render());
  fmt::print("\nparameters {:.2f} M, stored non-zeros {:.2f} M, {:.3f} bytes/parameter, file {}\n",
             total.elements / 1e6, total.stored_entries / 1e6, bytes_per_param,
             human_bytes(r.header().file_size));
  if (meta.contains("compression")) print_compression(meta["compression"]);
  return {};
}

}  // namespace

Command add_inspect_command(CLI::App& parent) {
  auto args = std::make_shared<InspectArgs>();
  auto* app = parent.add_subcommand("inspect", "Show a .sparq file's metadata, tensors and compression.");
  app->add_option("model", args->model, "The .sparq file")->required();
  add_json_flag(app, &args->json, "the file's metadata, tensors and totals");
  app->add_option("--tensor", args->tensor, "With --npy: the tensor to decode (its name as listed)");
  app->add_option("--npy", args->npy,
                  "Write --tensor's decoded values to this float32 .npy file (rows x last dimension), as the kernels "
                  "see them");
  Command c;
  c.app = app;
  c.run = [args] { return run_inspect(*args); };
  return c;
}

}  // namespace sparq::tools
