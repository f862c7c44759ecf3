#include "runtime/convert/compression_recipe.h"

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "formats/encoding_spec.h"
#include "formats/document.h"
#include "runtime/convert/obs_compression.h"
#include "runtime/convert/wanda_pruning.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

const char* method_name(PruneMethod m) {
  switch (m) {
    case PruneMethod::magnitude: return "magnitude";
    case PruneMethod::wanda: return "wanda";
    case PruneMethod::sparsegpt: return "sparsegpt";
  }
  return "?";
}

// GPTQ's grid for weights stored as `e`: q8 (per row or per group), symmetric q4.
Result<QuantGrid> gptq_grid(const formats::EncodeOptions& e) {
  if (e.encoding == formats::Encoding::q8) return QuantGrid{.qmax = 127, .group = e.group_size};
  if (e.encoding == formats::Encoding::q4 && !e.asymmetric) return QuantGrid{.qmax = 7, .group = e.group_size};
  return Error(fmt::format("quantization \"gptq\" rounds onto q8 or symmetric q4, and this tensor is stored as {}",
                           formats::encode_options_string(e)));
}

Status check_keys(const json& object, std::initializer_list<const char*> known, const std::string& where) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return it.key() == k; })) {
      std::vector<std::string> names(known.begin(), known.end());
      return Error(fmt::format("{}{}: unknown key (expected {})", where, it.key(), fmt::join(names, ", ")));
    }
  }
  return {};
}

// Optional field `key`: one of the names in `choices` (its value), or nothing when absent.
template <class E>
Result<std::optional<E>> choice(const json& object, const char* key,
                                std::initializer_list<std::pair<const char*, E>> choices, const std::string& where) {
  if (!object.contains(key)) return std::optional<E>();
  const json& v = object[key];
  for (const auto& [name, value] : choices) {
    if (v.is_string() && v.get<std::string>() == name) return std::optional<E>(value);
  }
  std::vector<std::string> names;
  for (const auto& c : choices) names.push_back(fmt::format("\"{}\"", c.first));
  return Error(fmt::format("{}{}: expected one of {}, got {}", where, key, fmt::join(names, ", "), v.dump()));
}

Result<std::vector<std::string>> string_list(const json& object, const char* key, const std::string& where) {
  std::vector<std::string> out;
  if (!object.contains(key)) return out;
  const json& v = object[key];
  if (v.is_string()) return std::vector<std::string>{v.get<std::string>()};
  if (!v.is_array()) return Error(fmt::format("{}{}: expected a list of tensor-name patterns", where, key));
  for (const json& item : v) {
    if (!item.is_string() || item.get<std::string>().empty()) {
      return Error(fmt::format("{}{}: expected non-empty strings, got {}", where, key, item.dump()));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<RecipeRule> parse_rule(const json& r, const std::string& where) {
  if (!r.is_object()) return Error(fmt::format("{}: expected an object", where));
  const std::string at = where + ".";
  if (Status s = check_keys(r, {"match", "sparsity", "pattern", "encoding", "group_size"}, at); !s) return s.error();
  RecipeRule rule;
  if (!r.contains("match") || !r["match"].is_string() || r["match"].get<std::string>().empty()) {
    return Error(fmt::format("{}match: expected a tensor-name pattern (e.g. \"layers.*.ffn.*\")", at));
  }
  rule.match = r["match"].get<std::string>();
  if (r.contains("pattern")) {
    if (!r["pattern"].is_string()) return Error(fmt::format("{}pattern: expected a string", at));
    auto p = parse_prune_pattern(r["pattern"].get<std::string>());
    if (!p) return p.error().within(at + "pattern");
    rule.pattern = *p;
  }
  const double fixed = rule.pattern.fixed_sparsity();
  if (r.contains("sparsity")) {
    const json& s = r["sparsity"];
    if (!s.is_number() || !(s.get<double>() >= 0 && s.get<double>() <= 1)) {
      return Error(fmt::format("{}sparsity: expected a number in [0, 1], got {}", at, s.dump()));
    }
    rule.sparsity = s.get<double>();
    if (fixed >= 0 && std::abs(rule.sparsity - fixed) > 1e-9) {
      return Error(fmt::format("{}sparsity: the {} pattern fixes the sparsity at {}, got {}", at,
                               rule.pattern.to_string(), fixed, rule.sparsity));
    }
  } else if (fixed >= 0) {
    rule.sparsity = fixed;
  }
  if (r.contains("encoding")) {
    if (!r["encoding"].is_string()) return Error(fmt::format("{}encoding: expected a string", at));
    auto e = parse_dense_encoding(r["encoding"].get<std::string>());
    if (!e) return Error(e.error().message()).within(at + "encoding");  // a bad file, not a bad command line
    rule.encoding = *e;
  }
  if (r.contains("group_size")) {
    const json& g = r["group_size"];
    if (!rule.encoding || (rule.encoding->encoding != formats::Encoding::q4 && rule.encoding->encoding != formats::Encoding::q8)) {
      return Error(fmt::format("{}group_size: applies to a q8 or q4 \"encoding\" only", at));
    }
    if (!g.is_number_integer() || g.get<int64_t>() <= 0 || g.get<int64_t>() > 65536) {
      return Error(fmt::format("{}group_size: expected a positive integer, got {}", at, g.dump()));
    }
    rule.encoding->group_size = g.get<uint32_t>();
    auto checked = formats::parse_encode_options(formats::encode_options_string(*rule.encoding));
    if (!checked) return checked.error().within(at + "group_size");
  }
  return rule;
}

bool matches_any(const std::vector<std::string>& patterns, std::string_view name) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return glob_match(p, name); });
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view name) {
  // Iterative wildcard matching with one backtrack point (the last `*`).
  size_t p = 0, n = 0, star = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p, ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_n = n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool excluded_by_default(std::string_view name) {
  return name.starts_with("embeddings.") || name.find("norm") != std::string_view::npos || name.ends_with(".bias") ||
         name.starts_with("pooler") || name.starts_with("classifier");
}

Result<formats::EncodeOptions> parse_dense_encoding(const std::string& text) {
  std::string spec = text;
  // "q4:32" for "q4:g32", as `sparq convert --weights` accepts.
  if (size_t colon = spec.find(':'); colon != std::string::npos && colon + 1 < spec.size() &&
                                     std::isdigit(static_cast<unsigned char>(spec[colon + 1]))) {
    spec = spec.substr(0, colon + 1) + "g" + spec.substr(colon + 1);
  }
  auto o = formats::parse_encode_options(spec);
  if (!o) return o.error();
  if (formats::is_sparse_layout(o->encoding)) {
    return Error(fmt::format("'{}': give a dense encoding (f32, f16, bf16, q8, q4[:gN][:asym]); pruned weights are "
                             "stored as CSR/BSR automatically when that is smaller",
                             text));
  }
  return *o;
}

json CompressionRecipe::to_json() const {
  json rule_list = json::array();
  for (const RecipeRule& r : rules) {
    json j = {{"match", r.match}, {"sparsity", r.sparsity}, {"pattern", r.pattern.to_string()}};
    if (r.encoding) j["encoding"] = formats::encode_options_string(*r.encoding);
    rule_list.push_back(j);
  }
  return {{"scope", scope == PruneScope::global ? "global" : "tensor"},
          {"method", method_name(method)},
          {"quantization", quantization == QuantizeMethod::gptq ? "gptq" : "rtn"},
          {"include", include},
          {"exclude", exclude},
          {"rules", rule_list}};
}

Result<CompressionRecipe> recipe_from_json(const json& document, const std::string& source) {
  if (!document.is_object()) return Error(fmt::format("{}: expected an object with \"rules\"", source));
  const std::string at = source + ": ";
  if (Status s = check_keys(document, {"scope", "method", "quantization", "include", "exclude", "rules"}, at); !s) return s.error();
  CompressionRecipe recipe;
  recipe.source = source;
  auto scope = choice<PruneScope>(document, "scope", {{"tensor", PruneScope::tensor}, {"per-tensor", PruneScope::tensor},
                                           {"global", PruneScope::global}}, at);
  auto method = choice<PruneMethod>(document, "method", {{"magnitude", PruneMethod::magnitude}, {"wanda", PruneMethod::wanda},
                                            {"sparsegpt", PruneMethod::sparsegpt}}, at);
  auto quantization =
      choice<QuantizeMethod>(document, "quantization", {{"rtn", QuantizeMethod::rtn}, {"gptq", QuantizeMethod::gptq}}, at);
  if (!scope) return scope.error();
  if (!method) return method.error();
  if (!quantization) return quantization.error();
  recipe.scope = scope->value_or(recipe.scope);
  recipe.method = method->value_or(recipe.method);
  recipe.quantization = quantization->value_or(recipe.quantization);
  if (recipe.method != PruneMethod::magnitude && recipe.scope == PruneScope::global) {
    return Error(fmt::format("{}scope: \"global\" ranks all tensors of a rule together; \"{}\" works on each tensor "
                             "(give \"scope\": \"tensor\")",
                             at, method_name(recipe.method)));
  }
  auto include = string_list(document, "include", at);
  if (!include) return include.error();
  auto exclude = string_list(document, "exclude", at);
  if (!exclude) return exclude.error();
  recipe.include = *include;
  recipe.exclude = *exclude;
  if (!document.contains("rules") || !document["rules"].is_array() || document["rules"].empty()) {
    return Error(fmt::format("{}rules: expected a non-empty list of {{\"match\", \"sparsity\", \"pattern\", "
                             "\"encoding\"}} objects",
                             at));
  }
  for (size_t i = 0; i < document["rules"].size(); ++i) {
    auto rule = parse_rule(document["rules"][i], fmt::format("{}rules[{}]", at, i));
    if (!rule) return rule.error();
    recipe.rules.push_back(*rule);
  }
  return recipe;
}

Result<CompressionRecipe> load_recipe(const std::string& path) {
  auto document = formats::load_document(path);
  if (!document) return document.error();
  return recipe_from_json(*document, path);
}

Result<std::vector<int>> assign_rules(const CompressionRecipe& recipe, std::span<const RecipeTensor> tensors) {
  const std::string at = recipe.source + ": ";
  std::vector<int> rule_of(tensors.size(), -1);
  std::vector<bool> rule_used(recipe.rules.size(), false);
  std::vector<std::string> candidates;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const RecipeTensor& t = tensors[i];
    if (t.dims.size() != 2) continue;
    const bool selected = recipe.include.empty() ? !excluded_by_default(t.name) : matches_any(recipe.include, t.name);
    if (!selected || matches_any(recipe.exclude, t.name)) continue;
    candidates.push_back(t.name);
    for (size_t r = 0; r < recipe.rules.size(); ++r) {
      if (glob_match(recipe.rules[r].match, t.name)) {
        rule_of[i] = static_cast<int>(r);
        rule_used[r] = true;
        break;
      }
    }
  }
  // A pattern that matches nothing is almost always a typo: say so instead of silently
  // converting without it.
  auto matrix_named = [&](const std::string& pattern) {
    return std::any_of(tensors.begin(), tensors.end(),
                       [&](const RecipeTensor& t) { return t.dims.size() == 2 && glob_match(pattern, t.name); });
  };
  for (const auto& [key, list] : {std::pair{"include", &recipe.include}, {"exclude", &recipe.exclude}}) {
    for (size_t i = 0; i < list->size(); ++i) {
      if (!matrix_named((*list)[i])) {
        return Error(fmt::format("{}{}[{}]: '{}' matches no weight matrix of the model", at, key, i, (*list)[i]));
      }
    }
  }
  for (size_t r = 0; r < recipe.rules.size(); ++r) {
    if (rule_used[r]) continue;
    const size_t shown = std::min<size_t>(candidates.size(), 6);
    return Error(fmt::format("{}rules[{}].match: '{}' matches no tensor the recipe selects{} ({} selected{}{}{})", at, r,
                             recipe.rules[r].match,
                             r > 0 ? " that an earlier rule did not take" : "",
                             candidates.size(), shown ? ": " : "",
                             fmt::join(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
                             candidates.size() > shown ? ", ..." : ""));
  }
  return rule_of;
}

Result<std::vector<CompressedTensor>> prune_with_recipe(const CompressionRecipe& recipe, std::span<const int> rule_of,
                                                        std::span<const PruneTensor> tensors,
                                                        std::span<const formats::EncodeOptions> stored_as) {
  std::vector<CompressedTensor> out(tensors.size());
  if (recipe.needs_calibration() && !recipe.calibration) {
    return Error(fmt::format("{}: method \"{}\" with quantization \"{}\" needs a calibration run (sparq convert "
                             "--calibration FILE.txt)",
                             recipe.source, method_name(recipe.method),
                             recipe.quantization == QuantizeMethod::gptq ? "gptq" : "rtn"));
  }
  // A tensor with its calibration statistics attached.
  auto calibrated = [&](const PruneTensor& t) -> Result<PruneTensor> {
    PruneTensor c = t;
    if (!recipe.calibration) return c;
    if (auto norms = recipe.calibration->input_norms.find(t.name);
        recipe.method == PruneMethod::wanda && norms != recipe.calibration->input_norms.end()) {
      c.input_norms = norms->second;
    }
    if (recipe.needs_grams()) {
      auto gram = recipe.calibration->input_grams.find(t.name);
      if (gram == recipe.calibration->input_grams.end()) {
        return Error(fmt::format("tensor '{}': the calibration run saw no input to it (SparseGPT and GPTQ work on "
                                 "the decoder's linear layers)",
                                 t.name));
      }
      c.input_gram = gram->second;
    }
    return c;
  };
  auto prune_group = [&](int r, const std::vector<size_t>& members) -> Status {
    const RecipeRule& rule = recipe.rules[static_cast<size_t>(r)];
    const bool prunes = rule.sparsity > 0 || rule.pattern.fixed_sparsity() >= 0;
    const bool gptq = recipe.quantization == QuantizeMethod::gptq;
    std::vector<PruneTensor> group;
    for (size_t i : members) {
      auto t = calibrated(tensors[i]);
      if (!t) return t.error().within(fmt::format("{}: rules[{}]", recipe.source, r));
      group.push_back(std::move(*t));
    }
    if (recipe.method == PruneMethod::sparsegpt && (prunes || gptq)) {
      for (size_t k = 0; k < group.size(); ++k) {
        ObsOptions o;
        if (prunes) o.prune = rule.pattern, o.sparsity = rule.sparsity;
        if (gptq) {
          auto grid = gptq_grid(stored_as[members[k]]);
          if (!grid) return grid.error().within(fmt::format("{}: rules[{}]: tensor '{}'", recipe.source, r, group[k].name));
          o.grid = *grid;
        }
        if (Status s = compress_with_hessian(group[k], group[k].input_gram, o); !s) {
          return s.error().within(fmt::format("{}: rules[{}]", recipe.source, r));
        }
      }
      return {};
    }
    if (prunes) {
      auto pruned = recipe.method == PruneMethod::wanda ? prune_by_wanda(group, rule.pattern, rule.sparsity)
                                                        : prune_by_magnitude(group, rule.pattern, rule.sparsity);
      if (!pruned) return pruned.error().within(fmt::format("{}: rules[{}]", recipe.source, r));
    }
    if (!gptq) return {};
    // GPTQ after a magnitude or Wanda mask: the zeros stay, the kept weights are rounded.
    for (size_t k = 0; k < group.size(); ++k) {
      auto grid = gptq_grid(stored_as[members[k]]);
      if (!grid) return grid.error().within(fmt::format("{}: rules[{}]: tensor '{}'", recipe.source, r, group[k].name));
      ObsOptions o;
      o.grid = *grid;
      if (Status s = compress_with_hessian(group[k], group[k].input_gram, o); !s) {
        return s.error().within(fmt::format("{}: rules[{}]", recipe.source, r));
      }
    }
    return {};
  };
  if (recipe.scope == PruneScope::global) {
    for (size_t r = 0; r < recipe.rules.size(); ++r) {
      std::vector<size_t> members;
      for (size_t i = 0; i < tensors.size(); ++i) {
        if (rule_of[i] == static_cast<int>(r)) members.push_back(i);
      }
      if (members.empty()) continue;
      if (Status s = prune_group(static_cast<int>(r), members); !s) return s.error();
    }
  } else {
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (Status s = prune_group(rule_of[i], {i}); !s) return s.error();
    }
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const RecipeRule& rule = recipe.rules[static_cast<size_t>(rule_of[i])];
    const auto& v = tensors[i].values;
    out[i].name = tensors[i].name;
    out[i].rule = rule_of[i];
    out[i].target_sparsity = rule.sparsity;
    out[i].pattern = rule.pattern.to_string();
    out[i].sparsity = v.empty() ? 0.0 : double(std::count(v.begin(), v.end(), 0.0f)) / double(v.size());
  }
  return out;
}

json compression_metadata(const CompressionRecipe& recipe, const std::vector<CompressedTensor>& tensors) {
  json list = json::array();
  for (const CompressedTensor& t : tensors) {
    list.push_back({{"name", t.name},
                    {"rule", t.rule},
                    {"pattern", t.pattern},
                    {"target_sparsity", t.target_sparsity},
                    {"sparsity", t.sparsity},
                    {"encoding", t.encoding},
                    {"bytes", t.bytes}});
  }
  json out = {{"recipe", recipe.to_json()}, {"source", recipe.source}, {"tensors", list}};
  if (recipe.calibration) out["calibration"] = recipe.calibration->provenance;
  return out;
}

}  // namespace sparq::runtime
