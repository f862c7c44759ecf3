// Compression recipes: which tensors of a model to prune, how far, in which pattern, and
// which weight encoding each gets. A recipe is a small JSON (or, when sparq is built with
// yaml-cpp, YAML) document:
//
//   {"scope": "tensor",                       // or "global": one threshold per rule
//    "method": "magnitude",                   // or "wanda": |w|·‖X‖, by output row, or
//                                             //   "sparsegpt" (obs_compression.h); both need a
//                                             //   calibration run (CompressionRecipe::calibration)
//    "quantization": "rtn",                   // or "gptq": q8/q4 rounding with error
//                                             //   compensation (obs_compression.h; calibrated)
//    "include": ["layers.*"],                 // optional: only these tensors (and they may
//                                             //   name default-excluded ones)
//    "exclude": ["layers.0.attention.*"],     // optional
//    "rules": [                               // first match wins
//      {"match": "layers.*.ffn.*", "sparsity": 0.9, "pattern": "4x4", "encoding": "q8"},
//      {"match": "*", "sparsity": 0.8, "pattern": "unstructured", "encoding": "q4",
//       "group_size": 32}]}
//
// Only matrices are candidates. Without "include", embeddings, norms, biases, the pooler
// and the classifier head are excluded by default. A rule without "encoding" leaves the
// converter's encoding; without "sparsity" (or 0) it only re-encodes. Every pattern must
// match at least one candidate tensor of the model it is applied to.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/error.h"
#include "formats/tensor_codec.h"
#include "runtime/convert/magnitude_pruning.h"

namespace sparq::runtime {

enum class PruneScope { tensor, global };
enum class PruneMethod { magnitude, wanda, sparsegpt };
enum class QuantizeMethod { rtn, gptq };  // round to nearest, or GPTQ

// What a calibration run over text saw, for activation-aware methods.
struct RecipeCalibration {
  nlohmann::json provenance;  // e.g. {"file", "sha256", "tokens"}: recorded in the metadata
  // Per linear weight (its .sparq name), ‖X_j‖₂ of each input column over the tokens.
  std::map<std::string, std::vector<float>> input_norms;
  // Per linear weight, XᵀX over the tokens (cols x cols): for sparsegpt and gptq only.
  std::map<std::string, std::vector<double>> input_grams;
};

struct RecipeRule {
  std::string match;
  double sparsity = 0;
  PrunePattern pattern;
  std::optional<formats::EncodeOptions> encoding;  // dense: f32, f16, bf16, q8, q4
};

struct CompressionRecipe {
  std::string source;  // the file, or "command line": named in every error
  PruneScope scope = PruneScope::tensor;
  PruneMethod method = PruneMethod::magnitude;
  QuantizeMethod quantization = QuantizeMethod::rtn;
  std::vector<std::string> include, exclude;
  std::vector<RecipeRule> rules;
  // Set by whoever runs the calibration before the recipe is applied (sparq convert
  // --calibration); wanda, sparsegpt and gptq need it.
  std::optional<RecipeCalibration> calibration;

  bool needs_calibration() const { return method != PruneMethod::magnitude || needs_grams(); }
  // SparseGPT and GPTQ work from each layer's XᵀX.
  bool needs_grams() const { return method == PruneMethod::sparsegpt || quantization == QuantizeMethod::gptq; }

  // The recipe with every default filled in, as recorded in the .sparq metadata; parsing it
  // again gives the same recipe.
  nlohmann::json to_json() const;
};

// `document` is a parsed recipe; `source` names it in errors ("FILE: rules[1].pattern: ...").
Result<CompressionRecipe> recipe_from_json(const nlohmann::json& document, const std::string& source);
// JSON, or YAML when the name ends in .yaml / .yml.
Result<CompressionRecipe> load_recipe(const std::string& path);

// "q8", "q4:g32:asym", also "q4:32"; only dense encodings.
Result<formats::EncodeOptions> parse_dense_encoding(const std::string& text);

// `*` matches any run of characters (dots included), `?` one character.
bool glob_match(std::string_view pattern, std::string_view name);
// Embeddings, norms, biases, pooler and classifier head.
bool excluded_by_default(std::string_view name);

struct RecipeTensor {
  std::string name;
  std::vector<uint64_t> dims;
};

// For each tensor, the index of the rule that applies to it, or -1 when the recipe leaves
// it alone. Errors name the recipe and the field whose pattern matches no candidate.
Result<std::vector<int>> assign_rules(const CompressionRecipe& recipe, std::span<const RecipeTensor> tensors);

// What the recipe did to one tensor (the .sparq "compression.tensors" entries).
struct CompressedTensor {
  std::string name;
  int rule = -1;
  double target_sparsity = 0, sparsity = 0;  // sparsity: zeros in the pruned f32 weights
  std::string pattern, encoding;             // encoding as stored, e.g. "bsr:q8:4x4"
  uint64_t bytes = 0;
};

// Prunes `tensors` (those with a rule, rule_of[i] >= 0 for tensors[i]) as the recipe says:
// each on its own (scope tensor) or all tensors of a rule together (scope global), by the
// recipe's method (wanda: with the calibration's input norms of each tensor; sparsegpt:
// with its XᵀX). With quantization gptq, each tensor is then rounded onto the grid of
// `stored_as[i]`, the encoding it is written in (q8, or symmetric q4), keeping its zeros.
// Fills name, rule, target and achieved sparsity and pattern of each result.
Result<std::vector<CompressedTensor>> prune_with_recipe(const CompressionRecipe& recipe, std::span<const int> rule_of,
                                                        std::span<const PruneTensor> tensors,
                                                        std::span<const formats::EncodeOptions> stored_as);

// The .sparq metadata "compression" object.
nlohmann::json compression_metadata(const CompressionRecipe& recipe, const std::vector<CompressedTensor>& tensors);

}  // namespace sparq::runtime
