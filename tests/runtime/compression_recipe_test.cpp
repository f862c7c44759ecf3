// Compression recipes: parsing (JSON, and YAML when built with yaml-cpp), the default
// exclusions, first-match rules, and errors that name the file and the field.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include "cli_runner.h"
#include "runtime/convert/compression_recipe.h"

namespace {

using nlohmann::json;
using sparq::runtime::assign_rules;
using sparq::runtime::CompressionRecipe;
using sparq::runtime::glob_match;
using sparq::runtime::PruneScope;
using sparq::runtime::RecipeTensor;
using sparq::runtime::recipe_from_json;

// The tensors of a two-layer BERT classifier, as the importer names them.
std::vector<RecipeTensor> bert_tensors() {
  std::vector<RecipeTensor> t = {{"embeddings.word.weight", {40, 16}},
                                 {"embeddings.position.weight", {24, 16}},
                                 {"embeddings.norm.weight", {16}},
                                 {"embeddings.norm.bias", {16}}};
  for (int l = 0; l < 2; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    for (auto [name, out, in] : {std::tuple{"attention.qkv", 48, 16}, {"attention.output", 16, 16},
                                 {"ffn.up", 32, 16}, {"ffn.down", 16, 32}}) {
      t.push_back({p + name + ".weight", {uint64_t(out), uint64_t(in)}});
      t.push_back({p + name + ".bias", {uint64_t(out)}});
    }
    t.push_back({p + "attention.norm.weight", {16}});
    t.push_back({p + "ffn.norm.weight", {16}});
  }
  t.push_back({"pooler.weight", {16, 16}});
  t.push_back({"pooler.bias", {16}});
  t.push_back({"classifier.weight", {3, 16}});
  t.push_back({"classifier.bias", {3}});
  return t;
}

std::vector<std::string> selected(const std::vector<RecipeTensor>& t, const std::vector<int>& rule_of, int rule = -2) {
  std::vector<std::string> out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (rule_of[i] >= 0 && (rule == -2 || rule_of[i] == rule)) out.push_back(t[i].name);
  }
  return out;
}

std::string error_of(const json& doc) {
  auto r = recipe_from_json(doc, "r.json");
  return r.ok() ? "" : r.error().message();
}

TEST(CompressionRecipe, GlobsMatchWholeNamesWithStarAndQuestionMark) {
  EXPECT_TRUE(glob_match("layers.*.ffn.up.weight", "layers.11.ffn.up.weight"));
  EXPECT_TRUE(glob_match("*", "pooler.weight"));
  EXPECT_TRUE(glob_match("layers.?.ffn*", "layers.3.ffn.down.weight"));
  EXPECT_FALSE(glob_match("layers.1.*", "layers.10.ffn.up.weight"));
  EXPECT_FALSE(glob_match("layers.*.ffn", "layers.0.ffn.up.weight"));
  EXPECT_FALSE(glob_match("?", ""));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYbc"));
}

TEST(CompressionRecipe, DefaultsExcludeEmbeddingsNormsBiasesPoolerAndHead) {
  auto r = recipe_from_json({{"rules", {{{"match", "*"}, {"sparsity", 0.5}}}}}, "r.json");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->scope, PruneScope::tensor);
  EXPECT_EQ(r->rules[0].pattern.to_string(), "unstructured");
  EXPECT_FALSE(r->rules[0].encoding.has_value());
  auto t = bert_tensors();
  auto rules = assign_rules(*r, t);
  ASSERT_TRUE(rules.ok()) << rules.error().message();
  std::vector<std::string> want;
  for (int l = 0; l < 2; ++l) {
    for (const char* n : {"attention.qkv", "attention.output", "ffn.up", "ffn.down"}) {
      want.push_back("layers." + std::to_string(l) + "." + n + ".weight");
    }
  }
  EXPECT_EQ(selected(t, *rules), want);
}

TEST(CompressionRecipe, IncludeNamesDefaultExcludedTensorsAndExcludeRemoves) {
  auto r = recipe_from_json({{"include", {"classifier.weight", "pooler.weight", "layers.*.ffn.*"}},
                             {"exclude", {"layers.1.*"}},
                             {"rules", {{{"match", "*"}, {"sparsity", 0.5}}}}},
                            "r.json");
  ASSERT_TRUE(r.ok()) << r.error().message();
  auto t = bert_tensors();
  auto rules = assign_rules(*r, t);
  ASSERT_TRUE(rules.ok()) << rules.error().message();
  EXPECT_EQ(selected(t, *rules), (std::vector<std::string>{"layers.0.ffn.up.weight", "layers.0.ffn.down.weight",
                                                            "pooler.weight", "classifier.weight"}));
}

TEST(CompressionRecipe, FirstMatchingRuleWins) {
  auto r = recipe_from_json({{"scope", "global"},
                             {"rules",
                              {{{"match", "layers.0.*"}, {"sparsity", 0.9}, {"pattern", "4x4"}, {"encoding", "q8"}},
                               {{"match", "layers.*.ffn.*"}, {"sparsity", 0.7}, {"encoding", "q4:64:asym"}},
                               {{"match", "*"}, {"pattern", "2:4"}}}}},
                            "r.json");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->scope, PruneScope::global);
  EXPECT_DOUBLE_EQ(r->rules[2].sparsity, 0.5);  // fixed by 2:4
  EXPECT_EQ(r->rules[1].encoding->group_size, 64u);
  EXPECT_TRUE(r->rules[1].encoding->asymmetric);
  auto t = bert_tensors();
  auto rules = assign_rules(*r, t);
  ASSERT_TRUE(rules.ok()) << rules.error().message();
  EXPECT_EQ(selected(t, *rules, 0).size(), 4u);
  EXPECT_EQ(selected(t, *rules, 1), (std::vector<std::string>{"layers.1.ffn.up.weight", "layers.1.ffn.down.weight"}));
  EXPECT_EQ(selected(t, *rules, 2),
            (std::vector<std::string>{"layers.1.attention.qkv.weight", "layers.1.attention.output.weight"}));
  // The normalised form parses back to the same recipe.
  auto again = recipe_from_json(r->to_json(), "again");
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->to_json(), r->to_json());
}

TEST(CompressionRecipe, ErrorsNameTheFileAndTheField) {
  const json rule = {{"match", "*"}, {"sparsity", 0.5}};
  struct Case {
    json doc;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{
           {{{"rules", {rule}}, {"scpoe", "global"}}, "r.json: scpoe: unknown key"},
           {{{"rules", json::array()}}, "r.json: rules:"},
           {{{"rules", {rule}}, {"scope", "everywhere"}}, "r.json: scope:"},
           {{{"rules", {{{"match", "*"}, {"sparsity", 1.5}}}}}, "r.json: rules[0].sparsity:"},
           {{{"rules", {{{"match", "*"}, {"sparsity", "lots"}}}}}, "r.json: rules[0].sparsity:"},
           {{{"rules", {rule, {{"match", "*"}, {"pattern", "3x3"}}}}}, "r.json: rules[1].pattern:"},
           {{{"rules", {{{"match", "*"}, {"pattern", "2:4"}, {"sparsity", 0.9}}}}}, "r.json: rules[0].sparsity:"},
           {{{"rules", {{{"match", "*"}, {"encoding", "csr:q8"}}}}}, "r.json: rules[0].encoding:"},
           {{{"rules", {{{"match", "*"}, {"encoding", "q5"}}}}}, "r.json: rules[0].encoding:"},
           {{{"rules", {{{"match", "*"}, {"group_size", 32}}}}}, "r.json: rules[0].group_size:"},
           {{{"rules", {{{"sparsity", 0.5}}}}}, "r.json: rules[0].match:"},
           {{{"rules", {{{"match", "*"}, {"sparsty", 0.5}}}}}, "r.json: rules[0].sparsty: unknown key"},
           {{{"rules", {rule}}, {"include", {1}}}, "r.json: include:"},
       }) {
    const std::string e = error_of(c.doc);
    EXPECT_EQ(e.rfind(c.field, 0), 0u) << "got: " << e << "\nwanted: " << c.field;
  }
}

TEST(CompressionRecipe, PatternsThatMatchNoTensorAreErrors) {
  auto t = bert_tensors();
  auto check = [&](const json& doc, const std::string& field) {
    auto r = recipe_from_json(doc, "r.json");
    ASSERT_TRUE(r.ok()) << r.error().message();
    auto rules = assign_rules(*r, t);
    ASSERT_FALSE(rules.ok()) << field;
    EXPECT_EQ(rules.error().message().rfind(field, 0), 0u) << rules.error().message();
  };
  check({{"rules", {{{"match", "layers.*.ffm.*"}, {"sparsity", 0.5}}}}}, "r.json: rules[0].match: 'layers.*.ffm.*'");
  // A rule that only default-excluded tensors would match selects nothing.
  check({{"rules", {{{"match", "classifier.weight"}, {"sparsity", 0.5}}}}}, "r.json: rules[0].match:");
  // A rule shadowed by an earlier one.
  check({{"rules", {{{"match", "*"}, {"sparsity", 0.5}}, {{"match", "layers.*"}, {"sparsity", 0.9}}}}},
        "r.json: rules[1].match:");
  check({{"exclude", {"layer.*"}}, {"rules", {{{"match", "*"}, {"sparsity", 0.5}}}}}, "r.json: exclude[0]:");
  check({{"include", {"nothing"}}, {"rules", {{{"match", "*"}, {"sparsity", 0.5}}}}}, "r.json: include[0]:");
}

TEST(CompressionRecipe, LoadsJsonAndYamlFiles) {
  const std::string dir = sparq::test::temp_dir("compression_recipe_files");
  const std::string json_path = dir + "/r.json";
  std::ofstream(json_path) << R"({"scope": "global", "rules": [{"match": "layers.*", "sparsity": 0.8, "pattern": "16x1",
                                  "encoding": "q4", "group_size": 64}]})";
  auto j = sparq::runtime::load_recipe(json_path);
  ASSERT_TRUE(j.ok()) << j.error().message();
  EXPECT_EQ(j->source, json_path);
  EXPECT_EQ(j->rules[0].pattern.to_string(), "16x1");
  EXPECT_EQ(j->rules[0].encoding->group_size, 64u);

  const std::string yaml_path = dir + "/r.yaml";
  std::ofstream(yaml_path) << "scope: global\nrules:\n  - match: \"layers.*\"\n    sparsity: 0.8\n    pattern: 16x1\n"
                              "    encoding: q4\n    group_size: 64\n";
  auto y = sparq::runtime::load_recipe(yaml_path);
#ifdef SPARQ_HAVE_YAML_CPP
  ASSERT_TRUE(y.ok()) << y.error().message();
  EXPECT_EQ(y->to_json(), j->to_json());
  std::ofstream(yaml_path) << "rules:\n  - match: \"*\"\n    sparsity: 0.8\n    patern: 4x4\n";
  auto bad = sparq::runtime::load_recipe(yaml_path);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), yaml_path + ": rules[0].patern: unknown key (expected match, sparsity, pattern, "
                                                "encoding, group_size)");
#else
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.error().message().find("without YAML support"), std::string::npos);
#endif
}

TEST(CompressionRecipe, PruneWithRecipeAppliesEachRuleAndReportsAchievedSparsity) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<std::vector<float>> values(3, std::vector<float>(16 * 16));
  for (size_t t = 0; t < 3; ++t) {
    for (float& x : values[t]) x = d(rng) * float(t + 1);
  }
  std::vector<sparq::runtime::PruneTensor> tensors;
  for (size_t t = 0; t < 3; ++t) tensors.push_back({.name = "t" + std::to_string(t), .values = values[t], .rows = 16, .cols = 16});
  const std::vector<sparq::formats::EncodeOptions> stored_as(3);
  for (const char* scope : {"tensor", "global"}) {
    auto work = values;
    for (size_t t = 0; t < 3; ++t) tensors[t].values = work[t];
    auto r = recipe_from_json({{"scope", scope},
                               {"rules", {{{"match", "t0"}, {"sparsity", 0.25}, {"pattern", "4x4"}},
                                          {{"match", "*"}, {"sparsity", 0.75}}}}},
                              "r.json");
    ASSERT_TRUE(r.ok());
    std::vector<int> rule_of = {0, 1, 1};
    auto out = sparq::runtime::prune_with_recipe(*r, rule_of, tensors, stored_as);
    ASSERT_TRUE(out.ok()) << out.error().message();
    EXPECT_DOUBLE_EQ((*out)[0].sparsity, 0.25);
    EXPECT_EQ((*out)[0].pattern, "4x4");
    EXPECT_DOUBLE_EQ((*out)[1].target_sparsity, 0.75);
    if (std::string(scope) == "tensor") {
      EXPECT_DOUBLE_EQ((*out)[1].sparsity, 0.75);
      EXPECT_DOUBLE_EQ((*out)[2].sparsity, 0.75);
    } else {
      // One threshold over t1 and t2: the smaller-scaled t1 loses more, together exactly 75 %.
      EXPECT_GT((*out)[1].sparsity, (*out)[2].sparsity);
      EXPECT_DOUBLE_EQ(((*out)[1].sparsity + (*out)[2].sparsity) / 2, 0.75);
    }
  }
}

}  // namespace

namespace {

TEST(CompressionRecipe, ShippedExampleRecipesParse) {
  size_t checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(SPARQ_SOURCE_DIR) + "/models/recipes")) {
    const std::string path = entry.path().string();
#ifndef SPARQ_HAVE_YAML_CPP
    if (path.ends_with(".yaml") || path.ends_with(".yml")) continue;
#endif
    auto r = sparq::runtime::load_recipe(path);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_FALSE(r->rules.empty()) << path;
    ++checked;
  }
  EXPECT_GT(checked, 0u);
}

}  // namespace
