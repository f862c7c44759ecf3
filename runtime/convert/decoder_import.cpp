#include "runtime/convert/decoder_import.h"

#include <algorithm>
#include <filesystem>

#include <fmt/core.h>

#include "formats/encoding_spec.h"
#include "formats/sha256_file.h"
#include "formats/sparq_writer.h"
#include "runtime/text/tokenizer.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

Status check_tensors(const ImportedDecoder& m) {
  const std::vector<TensorSpec> specs = llama_tensors(m.config);
  if (specs.size() != m.tensors.size()) {
    return Error(fmt::format("{}: {} tensors built, the architecture has {}", m.origin, m.tensors.size(), specs.size()));
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].name != m.tensors[i].name || specs[i].dims != m.tensors[i].dims) {
      return Error(fmt::format("{}: tensor '{}' does not match the architecture's '{}'", m.origin, m.tensors[i].name,
                               specs[i].name));
    }
  }
  return {};
}

// A tokenizer the runtime refuses as malformed is an error; one of a kind this build does
// not run yet (a newer tokenizer.json feature) is stored with a note, so that the file is
// ready when the runtime is.
Status check_tokenizer(ImportedDecoder& m) {
  // The ids it names, checked from the JSON itself, so that a tokenizer this build cannot run
  // is held to the vocabulary too.
  int64_t max_id = -1;
  const json& model = m.tokenizer.contains("model") ? m.tokenizer["model"] : json();
  if (model.is_object() && model.contains("vocab") && model["vocab"].is_object()) {
    for (const json& id : model["vocab"]) max_id = std::max(max_id, id.is_number_integer() ? id.get<int64_t>() : -1);
  }
  if (m.tokenizer.contains("added_tokens") && m.tokenizer["added_tokens"].is_array()) {
    for (const json& t : m.tokenizer["added_tokens"]) {
      if (t.is_object() && t.contains("id") && t["id"].is_number_integer()) max_id = std::max(max_id, t["id"].get<int64_t>());
    }
  }
  if (max_id >= int64_t(m.config.vocab_size)) {
    return Error(fmt::format("{}: the tokenizer names token id {} but the model's vocabulary (embedding rows) is {}",
                             m.tokenizer_origin, max_id, m.config.vocab_size));
  }
  auto built = Tokenizer::from_json(m.tokenizer);
  if (!built) {
    if (built.error().kind() == ErrorKind::unsupported) {
      m.notes.push_back(fmt::format("the tokenizer is stored, but this build cannot run it yet: {}", built.error().message()));
      return {};
    }
    return Error(fmt::format("{}: {}", m.tokenizer_origin, built.error().message()));
  }
  if (size_t ids = (*built)->vocab_size(); ids > m.config.vocab_size) {
    return Error(fmt::format("{}: the tokenizer produces ids up to {} but the model's vocabulary (embedding rows) is {}",
                             m.tokenizer_origin, ids - 1, m.config.vocab_size));
  }
  return {};
}

Status check_generation(const ImportedDecoder& m) {
  const GenerationConfig& g = m.generation;
  auto in_vocab = [&](int64_t id, const char* field) -> Status {
    if (id >= 0 && uint64_t(id) < m.config.vocab_size) return {};
    return Error(fmt::format("{}: {}: token id {} is outside the vocabulary of {}", m.origin, field, id,
                             m.config.vocab_size));
  };
  if (g.bos_token_id >= 0) {
    if (Status s = in_vocab(g.bos_token_id, "bos_token_id"); !s) return s;
  }
  for (int64_t id : g.eos_token_ids) {
    if (Status s = in_vocab(id, "eos_token_id"); !s) return s;
  }
  if (auto checked = generation_config_from_json(to_json(g)); !checked) return checked.error().within(m.origin);
  return {};
}

}  // namespace

formats::EncodeOptions encoding_for_role(TensorRole role, const HfImportOptions& options) {
  if (role == TensorRole::linear) return options.weights;
  if (role == TensorRole::embedding) return options.embeddings;
  return {};
}

Result<HfImportSummary> write_decoder_sparq(ImportedDecoder m, const HfImportOptions& options, const std::string& out_path) {
  if (auto checked = llama_config_from_json(to_json(m.config)); !checked) return checked.error().within(m.origin);
  if (Status s = check_tensors(m); !s) return s.error();
  if (Status s = check_tokenizer(m); !s) return s.error();
  if (Status s = check_generation(m); !s) return s.error();

  auto writer = formats::SparqWriter::create(out_path);
  if (!writer) return writer.error();
  EncodeAndWriteOptions stage = stage_options(options);
  stage.bitmap_rows = true;
  auto written = encode_and_write(m.tensors, stage, **writer);
  if (!written) return written.error();

  HfImportSummary summary;
  summary.hf_architecture = m.description;
  summary.architecture = to_json(m.config);
  summary.max_tokens = m.config.max_positions;
  summary.tensors = std::move(written->tensors);
  summary.compressed = std::move(written->compressed);
  summary.parameters = written->parameters;
  summary.notes = m.notes;
  json sources = json::array();
  for (const std::string& f : m.files) {
    uint64_t bytes = 0;
    auto sha = formats::sha256_file(f, &bytes);
    if (!sha) return sha.error();
    summary.source_bytes += bytes;
    sources.push_back({{"path", f}, {"sha256", *sha}, {"bytes", bytes}});
  }
  json conversion = m.conversion.is_object() ? m.conversion : json::object();
  conversion["from"] = m.source_format;
  conversion["source"] = m.description;
  // GGUF and llama2.c keep exactly transcodable blocks unless an encoding was given.
  const bool exact_source = m.source_format != "hf";
  conversion["weights"] = exact_source && !options.weights_given ? "as stored where exact, else f32"
                                                                 : formats::encode_options_string(options.weights);
  conversion["embeddings"] = exact_source && !options.embeddings_given ? "as stored where exact, else f32"
                                                                       : formats::encode_options_string(options.embeddings);
  conversion["keep_sparse"] = options.keep_sparse;
  conversion["compress"] = options.compress;
  json meta = {
      {"architecture", summary.architecture},
      {"tokenizer", m.tokenizer},
      {"generation", to_json(m.generation)},
      {"max_tokens", summary.max_tokens},
      {"provenance",
       {{"tool", "sparq convert"},
        {"command_line", options.command_line},
        {"sources", sources},
        {"conversion", conversion},
        {"notes", summary.notes}}},
  };
  if (options.recipe != nullptr) meta["compression"] = compression_metadata(*options.recipe, summary.compressed);
  if (Status s = (*writer)->finish(meta); !s) return s.error();
  summary.file_bytes = (*writer)->bytes_written();
  return summary;
}

}  // namespace sparq::runtime
