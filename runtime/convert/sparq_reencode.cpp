#include "runtime/convert/sparq_reencode.h"

#include <fmt/core.h>

#include <map>

#include "formats/sha256_file.h"
#include "formats/sparq_reader.h"
#include "formats/sparq_writer.h"
#include "runtime/convert/hf_import.h"
#include "runtime/model/model_schema.h"

namespace sparq::runtime {
namespace {

bool is_sparse(formats::Encoding e) { return e == formats::Encoding::csr || e == formats::Encoding::bsr; }

// The dense encoding a stored tensor had before any sparse layout.
formats::EncodeOptions own_dense_encoding(const formats::TensorDesc& d) {
  formats::EncodeOptions o;
  o.encoding = is_sparse(d.encoding) ? d.value_encoding : d.encoding;
  o.group_size = d.group_size;
  o.asymmetric = d.asymmetric;
  return o;
}

}  // namespace

Result<ReencodeSummary> reencode_sparq(const std::string& in_path, const ReencodeOptions& options,
                                       const std::string& out_path) {
  if (options.recipe == nullptr) return Error("--from sparq: give a recipe (--recipe FILE or --prune)", ErrorKind::invalid_argument);
  const CompressionRecipe& recipe = *options.recipe;
  auto opened = formats::SparqReader::open(in_path);
  if (!opened) return opened.error();
  const formats::SparqReader& reader = **opened;
  const nlohmann::json& source_meta = reader.metadata();
  if (!source_meta.contains("architecture")) return Error(fmt::format("{}: metadata has no \"architecture\"", in_path));
  auto specs = tensors_for(source_meta["architecture"]);
  if (!specs) return specs.error().within(in_path);
  std::map<std::string, TensorRole> role_of;
  for (const TensorSpec& s : *specs) role_of[s.name] = s.role;

  std::vector<RecipeTensor> candidates;
  for (const formats::TensorView& t : reader.tensors()) candidates.push_back({t.desc.name, t.desc.dims});
  auto assigned = assign_rules(recipe, candidates);
  if (!assigned) return assigned.error();
  const std::vector<int>& rule_of = *assigned;

  // Decode and prune every selected tensor first: a global threshold ranks them together.
  const std::vector<formats::TensorView>& views = reader.tensors();
  std::vector<std::vector<float>> values(views.size());
  std::vector<PruneTensor> targets;
  std::vector<int> target_rules;
  std::map<size_t, size_t> target_of;  // tensor index -> index in targets
  for (size_t i = 0; i < views.size(); ++i) {
    if (rule_of[i] < 0) continue;
    auto decoded = formats::decode_tensor(views[i].desc, views[i].payload);
    if (!decoded) return decoded.error().within(fmt::format("{}: tensor '{}'", in_path, views[i].desc.name));
    values[i] = std::move(*decoded);
  }
  for (size_t i = 0; i < views.size(); ++i) {
    if (rule_of[i] < 0) continue;
    target_of[i] = targets.size();
    targets.push_back({views[i].desc.name, values[i], views[i].desc.dims[0], views[i].desc.dims[1]});
    target_rules.push_back(rule_of[i]);
  }
  auto pruned = prune_with_recipe(recipe, target_rules, targets);
  if (!pruned) return pruned.error();

  ReencodeSummary summary;
  summary.compressed = std::move(*pruned);
  summary.tensors = views.size();
  auto writer = formats::SparqWriter::create(out_path);
  if (!writer) return writer.error();
  formats::WriteOptions write_options;
  write_options.compress = options.compress;
  for (size_t i = 0; i < views.size(); ++i) {
    const formats::TensorView& t = views[i];
    if (rule_of[i] < 0) {
      if (auto s = (*writer)->add_tensor(t.desc, t.payload, write_options); !s) return s.error();
      continue;
    }
    const RecipeRule& rule = recipe.rules[static_cast<size_t>(rule_of[i])];
    const formats::EncodeOptions dense =
        rule.encoding ? *rule.encoding : options.weights.value_or(own_dense_encoding(t.desc));
    const auto role = role_of.find(t.desc.name);
    const bool linear = role != role_of.end() && role->second == TensorRole::linear;
    if (!linear && dense.encoding == formats::Encoding::q4) {
      return Error(fmt::format("{}: rules[{}].encoding: tensor '{}' is not a linear weight; it takes f32, f16, bf16 or q8",
                               recipe.source, rule_of[i], t.desc.name));
    }
    double sparsity = 0;
    const formats::EncodeOptions enc =
        linear ? choose_linear_encoding(values[i], t.desc.dims, dense, true, &sparsity) : dense;
    auto encoded = formats::encode_tensor(t.desc.name, t.desc.dims, values[i], enc);
    if (!encoded) return encoded.error().within(fmt::format("{}: tensor '{}'", in_path, t.desc.name));
    values[i] = {};
    if (auto s = (*writer)->add_tensor(encoded->desc, encoded->payload, write_options); !s) return s.error();
    CompressedTensor& c = summary.compressed[target_of[i]];
    c.encoding = encoded->desc.encoding_string();
    c.bytes = encoded->payload.size();
  }

  uint64_t source_bytes = 0;
  auto sha = formats::sha256_file(in_path, &source_bytes);
  if (!sha) return sha.error();
  summary.source_bytes = source_bytes;
  nlohmann::json meta = source_meta;
  for (const char* written_by_writer : {"format", "sparq_version", "created_utc"}) meta.erase(written_by_writer);
  nlohmann::json step = {{"tool", "sparq convert"},
                         {"command_line", options.command_line},
                         {"from", "sparq"},
                         {"source", {{"path", in_path}, {"sha256", *sha}, {"bytes", source_bytes}}}};
  if (source_meta.contains("compression")) step["previous_compression"] = source_meta["compression"];
  if (!meta["provenance"].is_object()) meta["provenance"] = nlohmann::json::object();
  meta["provenance"]["reencoded"].push_back(step);
  meta["compression"] = compression_metadata(recipe, summary.compressed);
  if (Status s = (*writer)->finish(meta); !s) return s.error();
  summary.file_bytes = (*writer)->bytes_written();
  return summary;
}

}  // namespace sparq::runtime
