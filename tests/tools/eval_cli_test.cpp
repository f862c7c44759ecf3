// End-to-end `sparq eval`: metrics on labelled documents, the baseline comparison and the
// floors' exit status, checked against labels whose answers are known by construction.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cctype>
#include <fstream>
#include <sstream>

#include "cli_runner.h"

namespace {

using nlohmann::json;
using sparq::test::run_sparq;
using sparq::test::temp_dir;

std::string convert(const std::string& fixture, const std::string& dir, const std::string& weights) {
  std::string out = dir + "/" + fixture + "-" + weights + ".sparq";
  auto r = run_sparq({"convert", "--from", "hf", std::string(SPARQ_SOURCE_DIR) + "/tests/runtime/fixtures/encoders/" + fixture,
                      "-o", out, "--weights", weights});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

// Shipped dev documents, labelled with what `model` predicts for them (so that model's
// accuracy is exactly 1), except every third one, labelled with the next label over (a
// known number of mistakes).
struct Labelled {
  std::string path;
  size_t documents = 0, relabelled = 0;
};

Labelled label_with(const std::string& model, const std::string& dir, size_t n) {
  std::ifstream dev(sparq::test::dev_subset_path());
  EXPECT_TRUE(dev) << sparq::test::dev_subset_path();
  std::string docs, line;
  for (size_t i = 0; i < n && std::getline(dev, line); ++i) docs += line + "\n";
  auto r = run_sparq({"classify", model, "-q"}, docs);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(docs), out(r.out);
  Labelled l{dir + "/labelled.jsonl"};
  std::ofstream file(l.path);
  const std::vector<std::string> labels = {"class_0", "class_1", "class_2", "class_3", "class_4"};
  for (std::string a, b; std::getline(in, a) && std::getline(out, b); ++l.documents) {
    json doc = json::parse(a), pred = json::parse(b);
    std::string label = pred["label"];
    if (l.documents % 3 == 0) {
      size_t k = std::find(labels.begin(), labels.end(), label) - labels.begin();
      label = labels[(k + 1) % labels.size()];
      ++l.relabelled;
    }
    doc["label"] = label;
    file << doc.dump() << "\n";
  }
  return l;
}

TEST(CliEval, AccuracyFloorsAndBaselineAgreement) {
  std::string dir = temp_dir("cli_eval");
  std::string dense = convert("bert-odd", dir, "f32"), q8 = convert("bert-odd", dir, "q8");
  Labelled data = label_with(dense, dir, 30);
  ASSERT_EQ(data.documents, 30u);

  // --json: the report alone on stdout (no table mixed in), as `sparq plan --eval` reads it.
  auto r = run_sparq({"eval", dense, "--input", data.path, "--json", "--floor", "accuracy=0.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["examples"], 30);
  EXPECT_DOUBLE_EQ(j["accuracy"].get<double>(), double(data.documents - data.relabelled) / double(data.documents));
  EXPECT_TRUE(j["floor"]["passed"].get<bool>());
  EXPECT_EQ(j["floor"]["metric"], "accuracy");
  EXPECT_TRUE(j.contains("macro_f1"));
  uint64_t matrix_total = 0;
  for (const auto& row : j["confusion"]["matrix"]) {
    for (const auto& v : row) matrix_total += v.get<uint64_t>();
  }
  EXPECT_EQ(matrix_total, 30u);

  // A floor above what the model achieves: exit status 3, and the report says FAIL.
  auto fail = run_sparq({"eval", dense, "--input", data.path, "--floor", "accuracy=0.9"});
  EXPECT_EQ(fail.exit_code, 3) << fail.err;
  EXPECT_NE(fail.out.find("FAIL"), std::string::npos);

  // q8 next to the dense baseline: on the documents the dense model labelled itself, q8's
  // accuracy there equals its agreement with the dense model.
  auto cmp = run_sparq({"eval", q8, "--input", data.path, "--baseline", dense, "--json", "--floor", "relative=0.5"});
  ASSERT_EQ(cmp.exit_code, 0) << cmp.err;
  json c = json::parse(cmp.out);
  EXPECT_DOUBLE_EQ(c["baseline"]["accuracy"].get<double>(), j["accuracy"].get<double>());
  EXPECT_NEAR(c["delta"]["accuracy"].get<double>(),
              c["accuracy"].get<double>() - c["baseline"]["accuracy"].get<double>(), 1e-12);
  EXPECT_GE(c["agreement"].get<double>(), 0.9);  // q8 rarely changes the argmax (see the numerics tests)
  EXPECT_NEAR(c["relative_accuracy"].get<double>(),
              c["accuracy"].get<double>() / c["baseline"]["accuracy"].get<double>(), 1e-12);
}

TEST(CliEval, EmbedderCosineAgainstBaselineAndUsageErrors) {
  std::string dir = temp_dir("cli_eval_embed");
  std::string dense = convert("minilm-st", dir, "f32"), q8 = convert("minilm-st", dir, "q8");
  std::string docs = dir + "/docs.jsonl";
  std::ofstream(docs) << "{\"text\": \"a fast compression library\"}\n{\"text\": \"fonts for the desktop\"}\n";
  auto r = run_sparq({"eval", q8, "--input", docs, "--baseline", dense, "--floor", "cosine=0.99", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_GE(j["cosine"]["mean"].get<double>(), 0.99);
  EXPECT_LE(j["cosine"]["min"].get<double>(), j["cosine"]["mean"].get<double>());

  auto no_baseline = run_sparq({"eval", q8, "--input", docs});
  EXPECT_EQ(no_baseline.exit_code, 1);
  auto bad_floor = run_sparq({"eval", q8, "--input", docs, "--baseline", dense, "--floor", "accuracy=2"});
  EXPECT_EQ(bad_floor.exit_code, 1);
  EXPECT_NE(bad_floor.err.find("--floor"), std::string::npos);
  auto missing_label = run_sparq({"eval", convert("bert-odd", dir, "f32"), "--input", docs, "--json"});
  EXPECT_EQ(missing_label.exit_code, 2) << missing_label.err;  // no document has a label
  EXPECT_NE(missing_label.err.find("no document"), std::string::npos) << missing_label.err;
}

}  // namespace

// Gold labels written another way than the model's ("Games" for "games") once scored 0.0
// accuracy with no warning: all unknown is an error, some unknown a warning with counts.
TEST(CliEval, GoldLabelsThatAreNotTheModelsAreReported) {
  std::string dir = temp_dir("cli_eval_gold");
  const std::string model = sparq::test::default_model_path();
  std::ifstream samples(sparq::test::sample_docs_path());
  std::string upper, mixed, line;
  for (size_t i = 0; i < 40 && std::getline(samples, line); ++i) {
    json doc = json::parse(line);
    std::string label = doc["label"];
    json shouted = doc;
    shouted["label"] = std::string(1, char(std::toupper(label[0]))) + label.substr(1);
    upper += shouted.dump() + "\n";
    mixed += (i % 4 == 0 ? shouted : doc).dump() + "\n";
  }
  std::ofstream(dir + "/upper.jsonl") << upper;
  std::ofstream(dir + "/mixed.jsonl") << mixed;
  auto all_unknown = run_sparq({"eval", model, "--input", dir + "/upper.jsonl", "-q"});
  EXPECT_EQ(all_unknown.exit_code, 2) << all_unknown.err;
  EXPECT_NE(all_unknown.err.find("40 of 40 documents have a gold label that is not one of the model's labels"),
            std::string::npos)
      << all_unknown.err;
  auto some = run_sparq({"eval", model, "--input", dir + "/mixed.jsonl", "--json"});
  EXPECT_EQ(some.exit_code, 0) << some.err;
  EXPECT_NE(some.err.find("warning: "), std::string::npos) << some.err;
  EXPECT_NE(some.err.find("10 of 40 documents"), std::string::npos) << some.err;
  json report = json::parse(some.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << some.out;
  uint64_t counted = 0;
  for (const auto& [label, n] : report["unknown_gold_labels"].items()) counted += n.get<uint64_t>();
  EXPECT_EQ(counted, 10u);
}
