// End-to-end calibration, coverage and abstention: `sparq eval`'s calibration report and
// --calibrate, `sparq convert --temperature`, `sparq classify --min-score`. The references are
// computed here from what `sparq classify` prints (scores, logits) and the gold labels, with
// the definitions written out again: ECE over 15 equal-width bins of the top probability,
// multi-class Brier, accuracy of the most confident ceil(c · N) documents, and the NLL the
// temperature fit minimises (checked against a brute-force search over T).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include "cli_runner.h"

namespace {

using nlohmann::json;
using sparq::test::read_file;
using sparq::test::run_sparq;
using sparq::test::temp_dir;
using sparq::test::default_model_path;
using sparq::test::json_lines;


// The first `n` documents of the shipped dev subset (real Debian sections as gold labels).
std::string dev_documents(const std::string& dir, size_t n) {
  std::ifstream dev(sparq::test::dev_subset_path());
  std::string path = dir + "/dev.jsonl", line;
  std::ofstream out(path);
  for (size_t i = 0; i < n && std::getline(dev, line); ++i) out << line << "\n";
  return path;
}

// Full precision, so that the CLI gets the same double back.
std::string fmt_threshold(double x) {
  std::ostringstream s;
  s.precision(17);
  s << x;
  return s.str();
}

struct Classified {
  std::vector<json> records;  // classify's output, one per document
  std::vector<std::string> gold;
};

Classified classify(const std::string& model, const std::string& docs, const std::string& out,
                    std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"classify", model, "-i", docs, "-o", out, "-q", "--logits"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_sparq(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  Classified c;
  c.records = json_lines(read_file(out));
  for (const json& d : json_lines(read_file(docs))) c.gold.push_back(d["label"]);
  EXPECT_EQ(c.records.size(), c.gold.size());
  return c;
}

TEST(CliCalibration, EvalReportAgreesWithClassifyScores) {
  const std::string dir = temp_dir("cli_calibration_report");
  const std::string docs = dev_documents(dir, 160);
  Classified c = classify(default_model_path(), docs, dir + "/plain.jsonl");
  const size_t n = c.records.size();
  ASSERT_EQ(n, 160u);

  // Reference, from the printed scores: per document its confidence and correctness.
  std::vector<double> confidence(n);
  std::vector<int> right(n);
  double brier = 0;
  for (size_t i = 0; i < n; ++i) {
    confidence[i] = c.records[i]["score"];
    right[i] = c.records[i]["label"] == c.gold[i];
    for (const auto& [label, p] : c.records[i]["scores"].items()) {
      const double y = label == c.gold[i] ? 1 : 0;
      brier += (p.get<double>() - y) * (p.get<double>() - y);
    }
  }
  brier /= double(n);
  std::vector<double> bin_conf(15, 0), bin_right(15, 0), bin_n(15, 0);
  for (size_t i = 0; i < n; ++i) {
    int b = std::min(14, int(std::floor(confidence[i] * 15)));
    bin_conf[b] += confidence[i], bin_right[b] += right[i], bin_n[b] += 1;
  }
  double ece = 0;
  for (int b = 0; b < 15; ++b) {
    if (bin_n[b] > 0) ece += std::abs(bin_right[b] / bin_n[b] - bin_conf[b] / bin_n[b]) * bin_n[b] / double(n);
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return confidence[a] > confidence[b]; });

  auto r = run_sparq({"eval", default_model_path(), "--input", docs, "--json", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json cal = json::parse(r.out)["calibration"];
  EXPECT_EQ(cal["temperature"], 1.0);
  EXPECT_EQ(cal["ece_bins"], 15);
  EXPECT_NEAR(cal["ece"].get<double>(), ece, 1e-12);
  EXPECT_NEAR(cal["brier"].get<double>(), brier, 1e-12);
  ASSERT_EQ(cal["reliability"].size(), 15u);
  for (int b = 0; b < 15; ++b) EXPECT_EQ(cal["reliability"][b]["count"].get<double>(), bin_n[b]) << "bin " << b;
  const double coverages[] = {0.5, 0.8, 0.9, 0.95};
  ASSERT_EQ(cal["accuracy_at_coverage"].size(), 4u);
  for (size_t k = 0; k < 4; ++k) {
    const json& point = cal["accuracy_at_coverage"][k];
    const size_t kept = size_t(std::ceil(coverages[k] * double(n) - 1e-9));  // 80, 128, 144, 152
    double hits = 0;
    for (size_t i = 0; i < kept; ++i) hits += right[order[i]];
    EXPECT_EQ(point["coverage"].get<double>(), coverages[k]);
    EXPECT_EQ(point["documents"].get<size_t>(), kept);
    EXPECT_DOUBLE_EQ(point["accuracy"].get<double>(), hits / double(kept));
    EXPECT_DOUBLE_EQ(point["threshold"].get<double>(), confidence[order[kept - 1]]);
  }

  // The human report has the same figures.
  auto human = run_sparq({"eval", default_model_path(), "--input", docs, "-q"});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  for (const char* needle : {"calibration at temperature 1: ECE", "Brier", "accuracy of the most confident documents",
                             "threshold (--min-score)", "90 %"}) {
    EXPECT_NE(human.out.find(needle), std::string::npos) << needle << "\n" << human.out;
  }

  // accuracy@COVERAGE as a floor: measured is the coverage table's accuracy.
  const double at90 = cal["accuracy_at_coverage"][2]["accuracy"];
  ASSERT_LT(at90, 1.0);
  auto pass = run_sparq({"eval", default_model_path(), "--input", docs, "--json", "-q", "--floor", "accuracy@0.9=0.1"});
  ASSERT_EQ(pass.exit_code, 0) << pass.err;
  EXPECT_DOUBLE_EQ(json::parse(pass.out)["floor"]["measured"].get<double>(), at90);
  EXPECT_EQ(json::parse(pass.out)["floor"]["metric"], "accuracy@0.9");
  auto fail = run_sparq({"eval", default_model_path(), "--input", docs, "-q", "--floor", "accuracy@0.9=" + fmt_threshold(at90 + (1 - at90) / 2)});
  EXPECT_EQ(fail.exit_code, 3) << fail.err;
}

TEST(CliCalibration, MinScoreAbstainsExactlyTheRecordsBelowIt) {
  const std::string dir = temp_dir("cli_calibration_abstain");
  const std::string docs = dev_documents(dir, 160);
  Classified plain = classify(default_model_path(), docs, dir + "/plain.jsonl");
  // A threshold halfway between the 40th and 41st lowest distinct scores.
  std::vector<double> scores;
  for (const json& r : plain.records) scores.push_back(r["score"]);
  std::vector<double> sorted = scores;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  ASSERT_GT(sorted.size(), 50u);
  const double threshold = (sorted[39] + sorted[40]) / 2;
  size_t expected = 0;
  for (double s : scores) expected += s < threshold;

  auto r = run_sparq({"classify", default_model_path(), "-i", docs, "-o", dir + "/abstain.jsonl", "--logits", "--json",
                      "--min-score", fmt_threshold(threshold)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["abstained"].get<size_t>(), expected);
  std::vector<json> marked = json_lines(read_file(dir + "/abstain.jsonl"));
  ASSERT_EQ(marked.size(), plain.records.size());
  for (size_t i = 0; i < marked.size(); ++i) {
    const bool below = scores[i] < threshold;
    EXPECT_EQ(marked[i].value("abstained", false), below) << i;
    json without = marked[i];
    without.erase("abstained");
    EXPECT_EQ(without, plain.records[i]) << "label, score and scores are kept";
  }
  // The human summary counts them too; without --min-score nothing is marked.
  auto human = run_sparq({"classify", default_model_path(), "-i", docs, "-o", dir + "/abstain2.jsonl", "--min-score",
                          fmt_threshold(threshold)});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.err.find(std::to_string(expected) + " abstained"), std::string::npos) << human.err;
  EXPECT_EQ(read_file(dir + "/plain.jsonl").find("abstained"), std::string::npos);
}

// The printed logits and each record's gold label index, read out of the JSON once: the
// brute-force search below evaluates the NLL thousands of times.
struct GoldLogits {
  std::vector<std::vector<double>> z;
  std::vector<size_t> gold;
};

GoldLogits gold_logits(const Classified& c, const std::vector<std::string>& labels) {
  GoldLogits out;
  for (size_t i = 0; i < c.records.size(); ++i) {
    out.z.push_back(c.records[i]["logits"].get<std::vector<double>>());
    out.gold.push_back(size_t(std::find(labels.begin(), labels.end(), c.gold[i]) - labels.begin()));
  }
  return out;
}

// -ln softmax(z / T)[gold] averaged.
double nll(const GoldLogits& c, double t) {
  double sum = 0;
  for (size_t i = 0; i < c.z.size(); ++i) {
    const std::vector<double>& z = c.z[i];
    const double zmax = *std::max_element(z.begin(), z.end());
    double denominator = 0;
    for (double v : z) denominator += std::exp((v - zmax) / t);
    sum += std::log(denominator) - (z[c.gold[i]] - zmax) / t;
  }
  return sum / double(c.z.size());
}

TEST(CliCalibration, FittedTemperatureIsStoredAndApplied) {
  const std::string dir = temp_dir("cli_calibration_temperature");
  const std::string docs = dev_documents(dir, 160);
  Classified plain = classify(default_model_path(), docs, dir + "/plain.jsonl");
  auto fit = run_sparq({"eval", default_model_path(), "--input", docs, "--json", "-q", "--calibrate"});
  ASSERT_EQ(fit.exit_code, 0) << fit.err;
  const json report = json::parse(fit.out);
  const json tf = report["temperature_fit"];
  const double t = tf["temperature"];
  EXPECT_LE(tf["nll_after"].get<double>(), tf["nll_before"].get<double>());

  // Brute force: ln T over [ln 0.1, ln 20] in steps of 1e-3, then 1e-6 around the best. The
  // logits are in the model's label order ("scores" is by probability).
  const std::vector<std::string> labels =
      json::parse(run_sparq({"inspect", default_model_path(), "--json"}).out).at("metadata").at("labels");
  const GoldLogits rows = gold_logits(plain, labels);
  double best = 1e300, best_lt = 0;
  for (double lt = std::log(0.1); lt <= std::log(20.0); lt += 1e-3) {
    if (double v = nll(rows, std::exp(lt)); v < best) best = v, best_lt = lt;
  }
  for (double lt = best_lt - 1e-3; lt <= best_lt + 1e-3; lt += 1e-6) {
    if (double v = nll(rows, std::exp(lt)); v < best) best = v, best_lt = lt;
  }
  EXPECT_NEAR(t, std::exp(best_lt), std::exp(best_lt) * 1e-4);
  EXPECT_NEAR(tf["nll_after"].get<double>(), best, 1e-7);
  EXPECT_NEAR(tf["nll_before"].get<double>(), nll(rows, 1.0), 1e-9);

  // Stored: every tensor copied, the probabilities become softmax(logits / T) of the plain run.
  const std::string calibrated = dir + "/calibrated.sparq";
  auto conv = run_sparq({"convert", "--from", "sparq", default_model_path(), "-o", calibrated, "--temperature", fmt_threshold(t)});
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  const double stored = t;
  Classified scaled = classify(calibrated, docs, dir + "/scaled.jsonl");
  for (size_t i = 0; i < scaled.records.size(); ++i) {
    const json& a = plain.records[i];
    const json& b = scaled.records[i];
    ASSERT_EQ(a["logits"], b["logits"]) << "the logits do not change";
    EXPECT_EQ(a["label"], b["label"]);
    const std::vector<double> z = a["logits"];
    const double zmax = *std::max_element(z.begin(), z.end());
    double denominator = 0;
    for (double v : z) denominator += std::exp((v - zmax) / stored);
    for (size_t k = 0; k < labels.size(); ++k) {
      const double expected = std::exp((z[k] - zmax) / stored) / denominator;
      EXPECT_NEAR(b["scores"][labels[k]].get<double>(), expected, 1e-12) << i << " " << labels[k];
    }
  }
  // eval reads the stored temperature: its report is the fit's "after".
  auto again = run_sparq({"eval", calibrated, "--input", docs, "--json", "-q"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const json cal = json::parse(again.out)["calibration"];
  EXPECT_DOUBLE_EQ(cal["temperature"].get<double>(), stored);
  EXPECT_NEAR(cal["ece"].get<double>(), tf["ece_after"].get<double>(), 1e-5);
  EXPECT_NEAR(cal["brier"].get<double>(), tf["brier_after"].get<double>(), 1e-5);
  EXPECT_EQ(json::parse(again.out)["accuracy"], report["accuracy"]) << "a temperature never changes a prediction";
}

TEST(CliCalibration, BadTemperaturesThresholdsAndFloorsAreUsageErrors) {
  const std::string dir = temp_dir("cli_calibration_errors");
  const std::string out = dir + "/out.sparq";
  for (const char* t : {"0", "-1", "nan", "inf", "1e9"}) {
    auto r = run_sparq({"convert", "--from", "sparq", default_model_path(), "-o", out, "--temperature", t});
    EXPECT_NE(r.exit_code, 0) << t;
    EXPECT_NE(r.err.find("--temperature"), std::string::npos) << t << ": " << r.err;
  }
  auto hf = run_sparq({"convert", "--from", "hf",
                       std::string(SPARQ_SOURCE_DIR) + "/tests/runtime/fixtures/encoders/bert-odd", "-o", out,
                       "--temperature", "2"});
  EXPECT_EQ(hf.exit_code, 1);
  EXPECT_NE(hf.err.find("--from sparq"), std::string::npos) << hf.err;
  const std::string embedder = dir + "/embedder.sparq";
  ASSERT_EQ(run_sparq({"convert", "--from", "hf",
                       std::string(SPARQ_SOURCE_DIR) + "/tests/runtime/fixtures/encoders/minilm-st", "-o", embedder})
                .exit_code,
            0);
  auto not_classifier = run_sparq({"convert", "--from", "sparq", embedder, "-o", out, "--temperature", "2"});
  EXPECT_EQ(not_classifier.exit_code, 1);
  EXPECT_NE(not_classifier.err.find("not a classifier"), std::string::npos) << not_classifier.err;

  const std::string docs = dev_documents(dir, 4);
  for (const char* s : {"1.5", "-0.1", "x"}) {
    auto r = run_sparq({"classify", default_model_path(), "-i", docs, "--min-score", s});
    EXPECT_EQ(r.exit_code, 1) << s;
    EXPECT_NE(r.err.find("--min-score"), std::string::npos) << s << ": " << r.err;
  }
  for (const char* f : {"accuracy@0=0.5", "accuracy@1.5=0.5", "accuracy@x=0.5", "accuracy@0.9=2"}) {
    auto r = run_sparq({"eval", default_model_path(), "--input", docs, "--floor", f});
    EXPECT_EQ(r.exit_code, 1) << f;
    EXPECT_NE(r.err.find("accuracy@COVERAGE"), std::string::npos) << f << ": " << r.err;
  }
  auto embed_calibrate = run_sparq({"eval", embedder, "--input", docs, "--baseline", embedder, "--calibrate"});
  EXPECT_EQ(embed_calibrate.exit_code, 1);
  EXPECT_NE(embed_calibrate.err.find("--calibrate"), std::string::npos) << embed_calibrate.err;
}

}  // namespace
