// `sparq sensitivity` end to end on the shipped classifier (2 layers, 90 % 4x4-block q8) and
// 24 dev documents. Gold labels are the
// unpruned model's own predictions (so it scores 1.0 and pruning can only lose); every
// cell must agree with what `sparq convert --from sparq --recipe` + `sparq eval` report.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "cli_runner.h"
#include "formats/safetensors_test_writer.h"
#include "formats/sparq_reader.h"

namespace {

using nlohmann::json;
using sparq::test::run_sparq;
using sparq::test::temp_dir;
using sparq::test::write_file;

class Sensitivity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(temp_dir("sensitivity"));
    model_ = new std::string(sparq::test::default_model_path());
    // 24 dev documents, labelled with the model's own predictions.
    std::ifstream dev(sparq::test::dev_subset_path());
    ASSERT_TRUE(dev) << sparq::test::dev_subset_path();
    std::string docs, line;
    for (int i = 0; i < 24 && std::getline(dev, line); ++i) docs += line + "\n";
    write_file(*dir_ + "/docs.jsonl", docs);
    auto p = run_sparq({"classify", *model_, "--input", *dir_ + "/docs.jsonl", "-q", "-t", "1"});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    std::istringstream in_docs(docs), in_pred(p.out);
    std::string labelled, pred;
    while (std::getline(in_docs, line) && std::getline(in_pred, pred)) {
      json d = json::parse(line);
      d["label"] = json::parse(pred)["label"];
      labelled += d.dump() + "\n";
    }
    data_ = new std::string(*dir_ + "/labelled.jsonl");
    write_file(*data_, labelled);
  }
  static std::string* dir_;
  static std::string* model_;
  static std::string* data_;

  // The --json report on stdout; -q: nothing at all on stderr (it once printed every cell).
  json sensitivity(std::vector<std::string> extra) {
    std::vector<std::string> args = {"sensitivity", *model_, "--input", *data_, "-t", "1", "--json", "-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_sparq(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return r.exit_code == 0 ? json::parse(r.out) : json();
  }
};

std::string* Sensitivity::dir_ = nullptr;
std::string* Sensitivity::model_ = nullptr;
std::string* Sensitivity::data_ = nullptr;

// The prunable matrices of the model: 2-D, inside the numbered layers.
std::vector<std::string> layer_matrices(const std::string& model) {
  auto r = sparq::formats::SparqReader::open(model);
  EXPECT_TRUE(r.ok());
  std::vector<std::string> names;
  for (const auto& t : (*r)->tensors()) {
    if (t.desc.dims.size() == 2 && t.desc.name.starts_with("layers.")) names.push_back(t.desc.name);
  }
  return names;
}

TEST_F(Sensitivity, RowsForEveryGroupAndSparsityAndEachCellIsWhatConvertPlusEvalGive) {
  json report = sensitivity({"--sparsities", "0,0.5,0.95", "--groups", "layer"});
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["baseline"], 1.0);  // gold labels are the model's own predictions
  std::set<std::string> layers;
  for (const std::string& n : layer_matrices(*model_)) layers.insert(n.substr(0, n.find('.', 7)));
  ASSERT_EQ(report["rows"].size(), layers.size() * 3);
  std::set<std::pair<std::string, double>> seen;
  for (const json& row : report["rows"]) {
    seen.insert({row["group"].get<std::string>(), row["sparsity"].get<double>()});
    EXPECT_TRUE(layers.count(row["group"].get<std::string>())) << row.dump();
    EXPECT_EQ(row["tensors"].size(), 4u) << row.dump();
    EXPECT_DOUBLE_EQ(row["drop"].get<double>(), 1.0 - row["metric"].get<double>());
    if (row["sparsity"] == 0.0) {
      EXPECT_EQ(row["drop"], 0.0) << row.dump();
    }
  }
  EXPECT_EQ(seen.size(), layers.size() * 3);

  // One cell, reproduced by hand.
  const json* cell = nullptr;
  for (const json& row : report["rows"]) {
    if (row["group"] == "layers.1" && row["sparsity"] == 0.95) cell = &row;
  }
  ASSERT_NE(cell, nullptr);
  const std::string recipe = *dir_ + "/cell.json";
  write_file(recipe, R"({"rules": [{"match": "layers.1.*", "sparsity": 0.95, "pattern": "unstructured"}]})");
  const std::string pruned = *dir_ + "/cell.sparq";
  auto c = run_sparq({"convert", "--from", "sparq", *model_, "-o", pruned, "--recipe", recipe});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto e = run_sparq({"eval", pruned, "--input", *data_, "-t", "1", "--json"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(json::parse(e.out)["accuracy"], (*cell)["metric"]);
  EXPECT_LT((*cell)["metric"].get<double>(), 1.0) << "95 % of a layer's weights gone should change something";
}

TEST_F(Sensitivity, GroupsByKindAndTensorAndWritesARecipeWithinTheDrop) {
  const std::string recipe = *dir_ + "/picked.json";
  json kind = sensitivity({"--sparsities", "0.6,0.9", "--groups", "kind", "--pattern", "4x1", "--metric",
                           "macro_f1", "--write-recipe", recipe, "--max-drop", "0.1"});
  ASSERT_TRUE(kind.is_object());
  EXPECT_EQ(kind["pattern"], "4x1");
  EXPECT_EQ(kind["metric"], "macro_f1");
  ASSERT_EQ(kind["rows"].size(), 4u * 2);
  // Expected recipe: per group, the highest sparsity whose drop is at most 0.1.
  std::map<std::string, double> best;
  for (const json& row : kind["rows"]) {
    EXPECT_TRUE(row["match"].get<std::string>().starts_with("layers.*.")) << row.dump();
    if (row["drop"].get<double>() <= 0.1) {
      best[row["match"]] = std::max(best[row["match"]], row["sparsity"].get<double>());
    }
  }
  std::ifstream in(recipe);
  ASSERT_TRUE(in);
  json written = json::parse(in);
  std::map<std::string, double> got;
  for (const json& rule : written["rules"]) {
    EXPECT_EQ(rule["pattern"], "4x1");
    got[rule["match"]] = rule["sparsity"];
  }
  EXPECT_EQ(got, best);
  // The written recipe converts.
  auto c = run_sparq({"convert", "--from", "sparq", *model_, "-o", *dir_ + "/picked.sparq", "--recipe", recipe});
  EXPECT_EQ(c.exit_code, 0) << c.err;

  json tensor = sensitivity({"--sparsities", "0.5", "--groups", "tensor", "--limit", "8"});
  ASSERT_TRUE(tensor.is_object());
  EXPECT_EQ(tensor["rows"].size(), layer_matrices(*model_).size());
  EXPECT_EQ(tensor["examples"], 8);
}

TEST_F(Sensitivity, UsageErrors) {
  auto r = run_sparq({"sensitivity", *model_, "--input", *data_, "--write-recipe", *dir_ + "/x.json"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = run_sparq({"sensitivity", *model_, "--input", *data_, "--pattern", "5x5"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = run_sparq({"sensitivity", *model_, "--input", *data_, "--sparsities", "0.5,1.5"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  r = run_sparq({"sensitivity", *model_, "--input", *data_, "--groups", "head"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
}

}  // namespace
