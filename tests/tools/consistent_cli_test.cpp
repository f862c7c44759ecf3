// One consistent CLI (issue 16): --json means one thing on every command (its report, alone,
// on stdout), the same option has the same name everywhere, usage errors say
// `sparq: error:` and suggest the name that was probably meant, and `bench` shows its
// progress and reports its own figures (documents read, warm-up, peak RSS).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "cli_runner.h"

namespace {

using nlohmann::json;
using sparq::test::CliResult;
using sparq::test::run_sparq;
using sparq::test::temp_dir;
using sparq::test::default_model_path;
using sparq::test::sample_docs_path;


size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// `n` lines of the shipped sample documents, as a file in `dir`.
std::string sample_docs(const std::string& dir, size_t n) {
  std::ifstream in(sample_docs_path());
  std::string path = dir + "/docs.jsonl", line, text;
  for (size_t i = 0; i < n && std::getline(in, line); ++i) text += line + "\n";
  std::ofstream(path) << text;
  return path;
}

// A one-layer BERT with random weights: fast to load and to run.
std::string tiny_model(const std::string& dir) {
  std::string path = dir + "/tiny.sparq";
  CliResult r = run_sparq({"synth", "--arch", "bert", "--preset", "bert-tiny", "--config", "num_layers=1", "-o", path,
                           "-q"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return path;
}

// The sentence-transformers fixture: an embedder with a tokenizer.
std::string embedder(const std::string& dir) {
  std::string path = dir + "/minilm.sparq";
  CliResult r = run_sparq({"convert", "--from", "hf", std::string(SPARQ_SOURCE_DIR) + "/tests/runtime/fixtures/encoders/minilm-st",
                           "-o", path, "-q"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return path;
}

void expect_usage_error(const CliResult& r, const std::string& message) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(r.err.starts_with("sparq: error: ")) << r.err;
  EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(CliUsage, AMisspeltCommandOrOptionGetsTheClosestName) {
  expect_usage_error(run_sparq({"clasify"}), "unknown command 'clasify'; did you mean 'classify'?");
  expect_usage_error(run_sparq({"classify", default_model_path(), "--treads", "2"}),
                     "unknown option '--treads'; did you mean '--threads'?");
  expect_usage_error(run_sparq({"bench", default_model_path(), "--max-lenght=32"}),
                     "unknown option '--max-lenght'; did you mean '--max-length'?");
  // Nothing close: the error still names what was wrong and where the options are listed.
  expect_usage_error(run_sparq({"inspect", default_model_path(), "--zzzzzzzz"}), "inspect: unknown option '--zzzzzzzz'; `sparq inspect --help` lists them");
  // Other parse errors carry the same prefix.
  expect_usage_error(run_sparq({"classify"}), "model is required");
  expect_usage_error(run_sparq({"classify", default_model_path(), "--batch-size", "many"}), "--batch-size");
}

// The options that once had other names in some commands are refused under the old name.
TEST(CliUsage, OneNamePerOption) {
  for (const std::vector<std::string>& old : std::vector<std::vector<std::string>>{
           {"bench", default_model_path(), "--batch", "4"},
           {"bench", default_model_path(), "-b", "4"},
           {"bench", default_model_path(), "--seq-len", "32"},
           {"eval", default_model_path(), "--data", sample_docs_path()},
           {"eval", default_model_path(), "-d", sample_docs_path()},
           {"sensitivity", default_model_path(), "--data", sample_docs_path()},
           {"plan", "--bench", "b.json", "--workload", "w.yaml", "--json", "plan.json"}}) {
    CliResult r = run_sparq(old);
    EXPECT_EQ(r.exit_code, 1) << old[0] << " " << old[old.size() - 2] << ": " << r.err;
    EXPECT_TRUE(r.err.starts_with("sparq: error: ")) << r.err;
  }
  // The old name leads to the new one.
  expect_usage_error(run_sparq({"bench", default_model_path(), "--batch", "4"}), "unknown option '--batch'; did you mean '--batch-size'?");
  // The shared names, in every command's --help.
  struct Expected {
    std::string command;
    std::vector<std::string> options;
  };
  for (const Expected& e : std::vector<Expected>{
           {"bench", {"--batch-size", "--max-length", "-i,--input", "--format", "-t,--threads", "-q,--quiet", "--json"}},
           {"tokenize", {"-i,--input", "-o,--output", "--max-length", "-q,--quiet", "--json"}},
           {"hwinfo", {"-t,--threads", "-q,--quiet", "--json"}},
           {"classify", {"-i,--input", "-o,--output", "-t,--threads", "-q,--quiet", "--json"}},
           {"embed", {"-i,--input", "-o,--output", "-t,--threads", "-q,--quiet", "--json"}},
           {"eval", {"-i,--input", "-t,--threads", "-q,--quiet", "--json"}},
           {"sensitivity", {"-i,--input", "-t,--threads", "-q,--quiet", "--json"}},
           {"convert", {"-o,--output", "-q,--quiet", "--json"}},
           {"merge", {"-o,--output", "-q,--quiet", "--json"}},
           {"synth", {"-o,--output", "-q,--quiet", "--json"}},
           {"inspect", {"--json"}},
           {"plan", {"--json"}}}) {
    CliResult help = run_sparq({e.command, "--help"});
    ASSERT_EQ(help.exit_code, 0) << help.err;
    for (const std::string& option : e.options) {
      EXPECT_NE(help.out.find(option), std::string::npos) << e.command << " --help lacks " << option;
    }
    // --json is a flag everywhere: no FILE or TEXT after it.
    EXPECT_TRUE(std::regex_search(help.out, std::regex("--json +Print "))) << e.command << ":\n" << help.out;
  }
}

TEST(CliJson, JobSummariesGoToStdoutAndNotWhereTheRecordsGo) {
  std::string dir = temp_dir("cli_json_jobs");
  std::string docs = sample_docs(dir, 12);
  CliResult r = run_sparq({"classify", default_model_path(), "-i", docs, "-o", dir + "/out.jsonl", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["task"], "classify");
  EXPECT_EQ(j["records"], 12);
  EXPECT_EQ(j["errors"], 0);
  EXPECT_EQ(j["output"], dir + "/out.jsonl");
  EXPECT_GT(j["documents_per_s"].get<double>(), 0);
  EXPECT_EQ(r.err.find("classified"), std::string::npos) << "the summary went to stderr too:\n" << r.err;

  CliResult e = run_sparq({"embed", embedder(dir), "-i", docs, "-o", dir + "/e.npy", "--json", "-q"});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(json::parse(e.out)["records"], 12);

  CliResult t = run_sparq({"tokenize", default_model_path(), "-i", docs, "-o", dir + "/t.jsonl", "--json"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  json tj = json::parse(t.out);
  EXPECT_EQ(tj["records"], 12);
  EXPECT_GT(tj["tokens"].get<uint64_t>(), 12u);
  EXPECT_EQ(t.err, "");

  // Records on stdout and a JSON summary there too cannot be told apart.
  for (const std::string command : {"classify", "embed", "tokenize"}) {
    expect_usage_error(run_sparq({command, default_model_path(), "-i", docs, "--json"}), "-o FILE");
  }
}

TEST(CliJson, TokenizeReadsStdinAndWritesStdoutByDefault) {
  CliResult r = run_sparq({"tokenize", default_model_path(), "-q"}, "{\"text\": \"a library\"}\n{\"text\": \"fonts\"}\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count(r.out, "\"ids\""), 2u) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST(CliJson, SynthAndPlanReportAsJson) {
  std::string dir = temp_dir("cli_json_synth_plan");
  CliResult s = run_sparq({"synth", "--arch", "bert", "--preset", "bert-tiny", "-o", dir + "/m.sparq", "--json"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  json sj = json::parse(s.out);
  EXPECT_EQ(sj["output"], dir + "/m.sparq");
  EXPECT_GT(sj["parameters"].get<uint64_t>(), 0u);
  EXPECT_EQ(sj["file_bytes"].get<uint64_t>(), std::filesystem::file_size(dir + "/m.sparq"));

  const std::string fixtures = std::string(SPARQ_SOURCE_DIR) + "/tests/runtime/fixtures/planner";
  CliResult p = run_sparq({"plan", "--bench", fixtures + "/bench.json", "--eval", fixtures + "/eval.json", "--workload",
                           std::string(SPARQ_SOURCE_DIR) + "/models/example-workload.yaml", "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  json pj = json::parse(p.out);  // the plan alone: no table before it
  EXPECT_TRUE(pj.is_object());
}

TEST(CliBench, ReportsTheDocumentsReadAndTheRealWarmUp) {
  std::string dir = temp_dir("cli_bench_report");
  std::string docs = sample_docs(dir, 7);
  CliResult r = run_sparq({"bench", default_model_path(), "-i", docs, "--batch-size", "4", "--max-length", "16", "--warmup", "0.5",
                           "--seconds", "0.1", "--min-iterations", "2", "--no-measure", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("7 documents of " + docs), std::string::npos) << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(after ([0-9.]+) s warm-up)"))) << r.out;
  EXPECT_GE(std::stod(m[1]), 0.5) << r.out;  // the loop runs at least that long
  EXPECT_EQ(r.err, "");  // -q

  CliResult j = run_sparq({"bench", default_model_path(), "-i", docs, "--batch-size", "4", "--max-length", "16", "--warmup", "0",
                           "--seconds", "0.1", "--min-iterations", "2", "--no-measure", "--json", "-q"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  json report = json::parse(j.out);
  EXPECT_EQ(report["documents_read"], 7);
  EXPECT_EQ(report["batch"], 4);
  EXPECT_LE(report["seq_len"], 16);  // --max-length truncates real documents as in classify
  EXPECT_LE(report["avg_tokens_per_document"].get<double>(), 16);
}

// SPARQ_PROGRESS_INTERVAL=0: a progress line for every update, so the updates can be counted
// on a stderr that is not a terminal.
TEST(CliProgress, BenchShowsWarmUpAndMeasurementProgress) {
  std::string dir = temp_dir("cli_bench_progress");
  sparq::test::ScopedEnv env{{"SPARQ_PROGRESS_INTERVAL", "0"}};
  CliResult r = run_sparq({"bench", tiny_model(dir), "--batch-size", "2", "--max-length", "8", "--warmup", "0",
                           "--seconds", "0.05", "--min-iterations", "5", "--no-measure", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(count(r.err, "warm-up batches"), 1u) << r.err;
  EXPECT_GE(count(r.err, " batches ("), 5u) << r.err;  // one line per measured batch
  EXPECT_NO_THROW((void)json::parse(r.out));  // progress never reaches stdout

  CliResult quiet = run_sparq({"bench", tiny_model(dir), "--warmup", "0", "--seconds", "0.05", "--no-measure", "-q"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
}

// The progress of a batch job moves with every forward pass, not once per 2,048-document
// chunk: 20 documents one per forward pass in one chunk give at least 20 updates.
TEST(CliProgress, ClassifyUpdatesPerForwardPass) {
  std::string dir = temp_dir("cli_classify_progress");
  std::string docs = sample_docs(dir, 20);
  sparq::test::ScopedEnv env{{"SPARQ_PROGRESS_INTERVAL", "0"}};
  CliResult r = run_sparq({"classify", default_model_path(), "-i", docs, "-o", dir + "/out.jsonl", "--batch-size", "1", "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(count(r.err, "progress: "), 20u) << r.err;
}

// The hardware measurement's bandwidth arrays (hundreds of MiB) were once counted as the
// benchmark's peak RSS: with and without it, the model's figure is the same order.
TEST(CliBench, PeakRssIsTheBenchmarksOwn) {
  std::string dir = temp_dir("cli_bench_rss");
  std::string model = tiny_model(dir);
  auto peak = [&](bool measure) {
    std::vector<std::string> args = {"bench", model, "--warmup", "0", "--seconds", "0.05", "--json", "-q", "-t", "1"};
    if (!measure) args.push_back("--no-measure");
    CliResult r = run_sparq(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? json::parse(r.out)["peak_rss_bytes"].get<double>() : 0.0;
  };
  double without = peak(false), with = peak(true);
  ASSERT_GT(without, 0);
  EXPECT_LT(with, 2 * without) << "peak RSS " << with << " with the hardware measurement, " << without << " without";
}

}  // namespace
