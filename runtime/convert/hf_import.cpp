#include "runtime/convert/hf_import.h"

#include <filesystem>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "formats/encoding_spec.h"
#include "formats/sha256_file.h"
#include "formats/sparq_writer.h"
#include "runtime/convert/decoder_import.h"
#include "runtime/convert/hf_checkpoint_discovery.h"
#include "runtime/convert/hf_generation_config.h"
#include "runtime/convert/hf_tensor_mapping.h"
#include "runtime/convert/hf_tokenizer_import.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

Status check_options(const HfImportOptions& o) {
  if (formats::is_sparse_layout(o.weights.encoding)) {
    return Error("linear weights: give a dense encoding (f32, f16, bf16, q8, q4); zeros already in the checkpoint are "
                 "kept sparse automatically",
                 ErrorKind::invalid_argument);
  }
  if (Status s = check_embedding_encoding(o.embeddings); !s) return s.error().within("embedding tables");
  return {};
}

// Each canonical tensor read from the checkpoint tensors stacked into it.
std::vector<SourceTensor> source_tensors(const hf::Checkpoint& checkpoint, const hf::TensorMapping& mapping,
                                         const HfImportOptions& options) {
  const formats::SafetensorsCheckpoint& weights = *checkpoint.weights;
  std::vector<SourceTensor> tensors;
  for (const TensorSpec& spec : mapping.specs) {
    const std::vector<std::string>& sources = mapping.sources.at(spec.name);
    SourceTensor t;
    t.name = spec.name;
    t.dims = spec.dims;
    t.linear = spec.role == TensorRole::linear;
    t.encoding = encoding_for_role(spec.role, options);  // norms and biases: f32
    t.read = [&weights, &sources, &spec]() -> Result<std::vector<float>> {
      std::vector<float> values;
      values.reserve(spec.dims.size() == 1 ? spec.dims[0] : spec.dims[0] * spec.dims[1]);
      for (const std::string& src : sources) {
        auto part = weights.read_f32(src);
        if (!part) return part.error();
        values.insert(values.end(), part->begin(), part->end());
      }
      return values;
    };
    t.origin =
        fmt::format("{}: tensor '{}' (from {})", weights.find(sources[0])->file, spec.name, fmt::join(sources, ", "));
    tensors.push_back(std::move(t));
  }
  return tensors;
}

}  // namespace

EncodeAndWriteOptions stage_options(const HfImportOptions& options) {
  EncodeAndWriteOptions stage;
  stage.recipe = options.recipe;
  stage.keep_sparse = options.keep_sparse;
  stage.compress = options.compress;
  stage.on_tensor = options.on_tensor;
  return stage;
}

namespace {

// The last step: the tensors, then the metadata with the provenance (every file read, hashed).
Result<HfImportSummary> write_sparq(const hf::Checkpoint& checkpoint, const hf::TensorMapping& mapping,
                                    const hf::TokenizerImport& tokenizer, const HfImportOptions& options,
                                    const std::string& out_path) {
  const std::vector<SourceTensor> tensors = source_tensors(checkpoint, mapping, options);
  auto writer = formats::SparqWriter::create(out_path);
  if (!writer) return writer.error();
  auto written = encode_and_write(tensors, stage_options(options), **writer);
  if (!written) return written.error();

  HfImportSummary summary;
  summary.hf_architecture = checkpoint.hf_architecture;
  summary.architecture = to_json(mapping.config);
  summary.labels = checkpoint.labels;
  summary.max_tokens = tokenizer.max_tokens;
  summary.tensors = std::move(written->tensors);
  summary.compressed = std::move(written->compressed);
  summary.parameters = written->parameters;
  summary.notes = checkpoint.notes;
  summary.notes.insert(summary.notes.end(), mapping.notes.begin(), mapping.notes.end());

  std::vector<std::string> files = checkpoint.files_read;
  files.insert(files.end(), tokenizer.files_read.begin(), tokenizer.files_read.end());
  for (const std::string& f : checkpoint.weights->files()) {
    files.push_back(f);
    std::error_code size_ec;
    summary.source_bytes += std::filesystem::file_size(f, size_ec);
  }
  json sources = json::array();
  for (const std::string& f : files) {
    uint64_t bytes = 0;
    auto sha = formats::sha256_file(f, &bytes);
    if (!sha) return sha.error();
    sources.push_back({{"path", f}, {"sha256", *sha}, {"bytes", bytes}});
  }
  json meta = {
      {"architecture", summary.architecture},
      {"tokenizer", tokenizer.tokenizer},
      {"max_tokens", tokenizer.max_tokens},
      {"provenance",
       {{"tool", "sparq convert"},
        {"command_line", options.command_line},
        {"sources", sources},
        {"conversion",
         {{"from", "hf"},
          {"hf_architecture", checkpoint.hf_architecture},
          {"sentence_transformers", checkpoint.sentence_transformers},
          {"weights", formats::encode_options_string(options.weights)},
          {"embeddings", formats::encode_options_string(options.embeddings)},
          {"keep_sparse", options.keep_sparse},
          {"compress", options.compress}}},
        {"notes", summary.notes}}},
  };
  if (!summary.labels.empty()) meta["labels"] = summary.labels;
  if (options.recipe != nullptr) meta["compression"] = compression_metadata(*options.recipe, summary.compressed);
  if (Status s = (*writer)->finish(meta); !s) return s.error();
  summary.file_bytes = (*writer)->bytes_written();
  return summary;
}

// A Llama-family causal LM: the decoder stage shared with the GGUF and llama2.c importers.
Result<HfImportSummary> write_decoder(const hf::Checkpoint& checkpoint, const hf::TensorMapping& mapping,
                                      const hf::TokenizerImport& tokenizer, const HfImportOptions& options,
                                      const std::string& out_path) {
  auto generation = hf::import_generation_config(checkpoint, tokenizer.tokenizer, tokenizer.tokenizer_config);
  if (!generation) return generation.error();
  ImportedDecoder m;
  m.origin = checkpoint.root;
  m.source_format = "hf";
  m.description = checkpoint.hf_architecture;
  m.config = checkpoint.llama;
  m.tensors = source_tensors(checkpoint, mapping, options);
  m.tokenizer = tokenizer.tokenizer;
  m.tokenizer_origin = tokenizer.files_read.empty() ? checkpoint.model_dir : tokenizer.files_read.back();
  m.generation = generation->generation;
  m.files = checkpoint.files_read;
  const std::vector<std::string> weight_files = checkpoint.weights->files();
  for (const auto* list : std::initializer_list<const std::vector<std::string>*>{&tokenizer.files_read, &generation->files_read, &weight_files}) {
    m.files.insert(m.files.end(), list->begin(), list->end());
  }
  m.conversion = {{"hf_architecture", checkpoint.hf_architecture}};
  m.notes = checkpoint.notes;
  m.notes.insert(m.notes.end(), mapping.notes.begin(), mapping.notes.end());
  return write_decoder_sparq(std::move(m), options, out_path);
}

}  // namespace

Status check_embedding_encoding(const formats::EncodeOptions& o) {
  if (o.encoding == formats::Encoding::q4 || formats::is_sparse_layout(o.encoding)) {
    return Error("expected f32, f16, bf16 or q8", ErrorKind::invalid_argument);
  }
  return {};
}

Result<HfImportSummary> import_hf_checkpoint(const std::string& dir, const HfImportOptions& options,
                                             const std::string& out_path) {
  if (Status s = check_options(options); !s) return s.error();
  auto checkpoint = hf::discover_checkpoint(dir);
  if (!checkpoint) return checkpoint.error();
  auto mapping = hf::map_tensors(*checkpoint);
  if (!mapping) return mapping.error();
  auto tokenizer = hf::import_tokenizer(*checkpoint);
  if (!tokenizer) return tokenizer.error();
  if (checkpoint->family == hf::Family::llama) return write_decoder(*checkpoint, *mapping, *tokenizer, options, out_path);
  return write_sparq(*checkpoint, *mapping, *tokenizer, options, out_path);
}

}  // namespace sparq::runtime
