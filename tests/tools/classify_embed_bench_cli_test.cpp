// End-to-end: a Hugging Face checkpoint converted by `sparq convert`, then `sparq classify`,
// `sparq embed` and `sparq bench` on documents: one output record per input record in
// input order, results independent of how documents were batched, errors per record.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli_runner.h"
#include "formats/sparq_reader.h"
#include "formats/sparq_writer.h"

namespace {

using nlohmann::json;
using sparq::test::read_file;
using sparq::test::run_sparq;
using sparq::test::temp_dir;
using sparq::test::convert_encoder_fixture;
using sparq::test::split_lines;

std::string fmt_shape(size_t rows, size_t dim) {
  return "'shape': (" + std::to_string(rows) + ", " + std::to_string(dim) + ")";
}

// The first `n` shipped dev documents, plus the records a job must survive: each becomes
// exactly one error line.
std::string dev_with_bad_records(size_t n) {
  std::ifstream dev(sparq::test::dev_subset_path());
  EXPECT_TRUE(dev) << sparq::test::dev_subset_path();
  std::string out, line;
  for (size_t i = 0; i < n && std::getline(dev, line); ++i) {
    out += line + "\n";
    if (i == 3) out += "{\"id\": \"broken\", \"text\": \n";
    if (i == 5) out += "{\"id\": \"empty\", \"text\": \"\"}\n";
    if (i == 7) out += "{\"id\": \"latin1\", \"text\": \"caf\xE9\"}\n";
  }
  return out;
}

TEST(CliClassify, OneRecordPerInputInOrderWithProbabilitiesAndErrors) {
  std::string dir = temp_dir("cli_classify");
  std::string model = convert_encoder_fixture("bert-odd", dir);
  std::string input = dir + "/docs.jsonl";
  std::ofstream(input) << dev_with_bad_records(40);
  std::vector<std::string> in_lines = split_lines(read_file(input));

  auto r = run_sparq({"classify", model, "--input", input, "--output", dir + "/out.jsonl", "--logits"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("documents/s"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("p95"), std::string::npos) << r.err;
  std::vector<std::string> out_lines = split_lines(read_file(dir + "/out.jsonl"));
  ASSERT_EQ(out_lines.size(), in_lines.size());
  size_t errors = 0;
  for (size_t i = 0; i < out_lines.size(); ++i) {
    json o = json::parse(out_lines[i]);
    json in = json::parse(in_lines[i], nullptr, false);
    EXPECT_EQ(o["index"], i) << out_lines[i];  // the record's position in the input, errors included
    if (o.contains("error")) {
      ++errors;
      EXPECT_TRUE(o["error"].contains("code") && o["error"].contains("message")) << out_lines[i];
      continue;
    }
    EXPECT_EQ(o["id"], in["id"]);
    // Probabilities are the softmax of the logits, and the label is the most probable one.
    const auto& logits = o["logits"];
    ASSERT_EQ(logits.size(), 5u);
    double zmax = -1e30, total = 0;
    for (const auto& z : logits) zmax = std::max(zmax, z.get<double>());
    for (const auto& z : logits) total += std::exp(z.get<double>() - zmax);
    double best = 0;
    std::string best_label;
    double sum = 0;
    for (const auto& [label, p] : o["scores"].items()) {
      sum += p.get<double>();
      if (p.get<double>() > best) best = p.get<double>(), best_label = label;
    }
    EXPECT_NEAR(sum, 1.0, 1e-9);
    EXPECT_EQ(o["label"], best_label);
    EXPECT_NEAR(o["score"].get<double>(), 1.0 / total, 1e-6);
  }
  EXPECT_EQ(errors, 3u);
  EXPECT_NE(r.err.find("malformed_json"), std::string::npos);
  EXPECT_NE(r.err.find("invalid_utf8"), std::string::npos);
  EXPECT_NE(r.err.find("empty_text"), std::string::npos);
}

TEST(CliClassify, ResultsDoNotDependOnBatchingOrThreads) {
  std::string dir = temp_dir("cli_classify_batching");
  std::string model = convert_encoder_fixture("bert-odd", dir);
  std::string input = dir + "/docs.jsonl";
  std::ofstream(input) << dev_with_bad_records(24);
  auto one = run_sparq({"classify", model, "-i", input, "-o", dir + "/one.jsonl", "--batch-size", "1", "--logits",
                        "--threads", "1", "-q"});
  auto many = run_sparq({"classify", model, "-i", input, "-o", dir + "/many.jsonl", "--max-tokens-per-batch", "512",
                         "--logits", "--threads", "2", "-q"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(many.exit_code, 0) << many.err;
  EXPECT_TRUE(one.err.empty()) << "--quiet prints nothing: " << one.err;
  auto a = split_lines(read_file(dir + "/one.jsonl")), b = split_lines(read_file(dir + "/many.jsonl"));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    json x = json::parse(a[i]), y = json::parse(b[i]);
    ASSERT_EQ(x["id"], y["id"]);
    if (x.contains("error")) continue;
    for (size_t k = 0; k < x["logits"].size(); ++k) {
      EXPECT_NEAR(x["logits"][k].get<double>(), y["logits"][k].get<double>(), 1e-4) << x["id"];
    }
  }
}

TEST(CliClassify, TruncationIsCountedAndReported) {
  std::string dir = temp_dir("cli_classify_truncation");
  std::string model = convert_encoder_fixture("bert-odd", dir);
  auto r = run_sparq({"classify", model, "--format", "txt", "--max-length", "8", "-o", "-"},
                     "one two three four five six seven eight nine ten eleven\nshort\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto out = split_lines(r.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_GT(json::parse(out[0]).value("truncated_tokens", 0), 0);
  EXPECT_FALSE(json::parse(out[1]).contains("truncated_tokens"));
  EXPECT_NE(r.err.find("1 truncated"), std::string::npos) << r.err;
}

TEST(CliClassify, CsvInputAndTopK) {
  std::string dir = temp_dir("cli_classify_csv");
  std::string model = convert_encoder_fixture("bert-odd", dir);
  std::string input = dir + "/docs.csv";
  std::ofstream(input) << "doc,body\nd1,\"first, with a comma\"\nd2,\"second\nspans lines\"\n";
  auto r = run_sparq({"classify", model, "-i", input, "--text-field", "body", "--id-field", "doc", "--top-k", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto out = split_lines(r.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(json::parse(out[1])["id"], "d2");
  EXPECT_EQ(json::parse(out[0])["scores"].size(), 2u);
}

TEST(CliClassify, BadModelOrUsageFailsClearly) {
  std::string dir = temp_dir("cli_classify_errors");
  auto missing = run_sparq({"classify", dir + "/nope.sparq", "-i", "-"}, "{\"text\": \"x\"}\n");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope.sparq"), std::string::npos) << missing.err;
  std::string embedder = convert_encoder_fixture("minilm-st", dir);
  auto wrong = run_sparq({"classify", embedder, "-i", "-"}, "{\"text\": \"x\"}\n");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("sparq embed"), std::string::npos) << wrong.err;
  // Nothing half-written is left behind when the job fails.
  std::string model = convert_encoder_fixture("bert-odd", dir);
  auto unwritable = run_sparq({"classify", model, "-i", "-", "-o", dir + "/no/such/dir/out.jsonl"}, "{\"text\": \"x\"}\n");
  EXPECT_EQ(unwritable.exit_code, 2);
  EXPECT_NE(unwritable.err.find("no/such/dir"), std::string::npos) << unwritable.err;
}

TEST(CliEmbed, JsonlAndNpyAgreeAndAreNormalised) {
  std::string dir = temp_dir("cli_embed");
  std::string model = convert_encoder_fixture("minilm-st", dir);
  std::string input = dir + "/docs.jsonl";
  std::ofstream(input) << dev_with_bad_records(12);
  auto jl = run_sparq({"embed", model, "-i", input, "-o", dir + "/e.jsonl", "-q"});
  auto np = run_sparq({"embed", model, "-i", input, "-o", dir + "/e.npy", "-q"});
  ASSERT_EQ(jl.exit_code, 0) << jl.err;
  ASSERT_EQ(np.exit_code, 0) << np.err;
  auto rows = split_lines(read_file(dir + "/e.jsonl"));
  std::string npy = read_file(dir + "/e.npy");
  ASSERT_GE(npy.size(), 128u);
  ASSERT_EQ(npy.compare(0, 6, "\x93NUMPY"), 0);
  size_t header = 10 + size_t(uint8_t(npy[8])) + 256 * size_t(uint8_t(npy[9]));
  std::string dict = npy.substr(10, header - 10);
  ASSERT_EQ(header % 64, 0u);
  size_t dim = json::parse(rows[0])["embedding"].size();
  EXPECT_NE(dict.find(fmt_shape(rows.size(), dim)), std::string::npos) << dict;
  ASSERT_EQ(npy.size(), header + rows.size() * dim * 4);
  for (size_t i = 0; i < rows.size(); ++i) {
    json o = json::parse(rows[i]);
    EXPECT_EQ(o["index"], i) << rows[i];
    float first;
    std::memcpy(&first, npy.data() + header + i * dim * 4, 4);
    if (o.contains("error")) {
      EXPECT_TRUE(std::isnan(first));
      continue;
    }
    double norm = 0;
    for (size_t k = 0; k < dim; ++k) {
      float v;
      std::memcpy(&v, npy.data() + header + (i * dim + k) * 4, 4);
      EXPECT_EQ(v, o["embedding"][k].get<float>());  // shortest float text reads back exactly
      norm += double(v) * v;
    }
    EXPECT_NEAR(norm, 1.0, 1e-5);  // the fixture's sentence-transformers config normalises
  }
}

TEST(CliBench, JsonReportHasWhatThePlannerReads) {
  std::string dir = temp_dir("cli_bench");
  std::string model = convert_encoder_fixture("bert-odd", dir, "q8");
  auto r = run_sparq({"bench", model, "--batch-size", "4", "--max-length", "32", "--seconds", "0.2", "--warmup", "0",
                      "--min-iterations", "3", "--json", "--no-measure"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["model"]["kind"], "encoder");
  EXPECT_GT(j["model"]["bytes"].get<double>(), 0);
  EXPECT_GT(j["model"]["parameters"].get<double>(), 0);
  EXPECT_NE(j["model"]["format"].get<std::string>().find("q8"), std::string::npos);
  EXPECT_EQ(j["batch"], 4);
  EXPECT_EQ(j["seq_len"], 32);
  EXPECT_GE(j["iterations"].get<int>(), 3);
  // documents/s and tokens/s are the same measurement in two units.
  EXPECT_NEAR(j["tokens_per_s"].get<double>(), 32 * j["documents_per_s"].get<double>(),
              1e-6 * j["tokens_per_s"].get<double>());
  EXPECT_LE(j["latency_ms"]["p50"].get<double>(), j["latency_ms"]["p99"].get<double>());
  EXPECT_GT(j["peak_rss_bytes"].get<double>(), 0);
  EXPECT_TRUE(j["hwinfo"].contains("cpu"));

  std::string docs = dir + "/docs.jsonl";
  std::ofstream(docs) << dev_with_bad_records(10);
  auto real = run_sparq({"bench", model, "--input", docs, "--batch-size", "4", "--seconds", "0.2", "--warmup", "0",
                         "--json", "--no-measure"});
  ASSERT_EQ(real.exit_code, 0) << real.err;
  json k = json::parse(real.out);
  EXPECT_GT(k["avg_tokens_per_document"].get<double>(), 2);
  EXPECT_EQ(k["input"], docs);
}

}  // namespace

// Huge thread counts crashed inside libgomp: --threads is refused above 4 per CPU, and
// OMP_NUM_THREADS is clamped there with a warning.
TEST(CliClassify, HugeThreadCountsAreRefusedOrClamped) {
  const std::string model = sparq::test::default_model_path();
  const std::string doc = "{\"text\": \"a library for parsing YAML\"}\n";
  auto flag = run_sparq({"classify", model, "-i", "-", "--threads", "100000"}, doc);
  EXPECT_EQ(flag.exit_code, 1) << flag.err;
  EXPECT_NE(flag.err.find("thread count 100000 is more than"), std::string::npos) << flag.err;
  EXPECT_NE(flag.err.find("(--threads)"), std::string::npos) << flag.err;
  auto bench = run_sparq({"bench", model, "--threads", "100000", "--no-measure", "--seconds", "0.1"});
  EXPECT_EQ(bench.exit_code, 1) << bench.err;
  sparq::test::ScopedEnv env{{"OMP_NUM_THREADS", "99999"}};
  auto clamped = run_sparq({"classify", model, "-i", "-", "-q"}, doc);
  EXPECT_EQ(clamped.exit_code, 0) << clamped.err;
  EXPECT_NE(clamped.err.find("OMP_NUM_THREADS=99999 is more than"), std::string::npos) << clamped.err;
  EXPECT_NE(clamped.out.find("\"label\""), std::string::npos) << clamped.out;
}

// SPARQ_ATTENTION picks the attention arithmetic (README); `-v` lists the choice among the
// kernels, and a value it does not know stops the job before any record, naming the variable.
TEST(CliClassify, AttentionChoiceComesFromTheEnvironment) {
  const std::string model = sparq::test::default_model_path();
  const std::string doc = "{\"text\": \"a library for parsing YAML\"}\n";
  {
    sparq::test::ScopedEnv env{{"SPARQ_ATTENTION", "fast"}};
    auto bad = run_sparq({"classify", model, "-i", "-"}, doc);
    EXPECT_EQ(bad.exit_code, 1) << bad.err;
    EXPECT_NE(bad.err.find("SPARQ_ATTENTION='fast': expected f32, int8 or auto"), std::string::npos) << bad.err;
    EXPECT_EQ(bad.out, "");
  }
  sparq::test::ScopedEnv env{{"SPARQ_ATTENTION", "f32"}};
  auto f32 = run_sparq({"classify", model, "-i", "-", "-v"}, doc);
  EXPECT_EQ(f32.exit_code, 0) << f32.err;
  EXPECT_NE(f32.err.find("attention: f32 ("), std::string::npos) << f32.err;
  EXPECT_NE(f32.out.find("\"label\""), std::string::npos) << f32.out;
}

namespace {

// A copy of `src` whose classifier bias holds a NaN (the conversion that would refuse it
// is bypassed by writing the file directly).
void write_with_nan_bias(const std::string& src, const std::string& dst) {
  auto r = sparq::formats::SparqReader::open(src);
  ASSERT_TRUE(r.ok()) << r.error().message();
  auto w = sparq::formats::SparqWriter::create(dst);
  ASSERT_TRUE(w.ok());
  bool poisoned = false;
  for (const sparq::formats::TensorView& t : (*r)->tensors()) {
    std::vector<uint8_t> payload(t.payload.begin(), t.payload.end());
    if (t.desc.name == "classifier.bias") {
      ASSERT_EQ(t.desc.encoding, sparq::formats::Encoding::f32);
      const float nan = std::nanf("");
      std::memcpy(payload.data(), &nan, sizeof nan);
      poisoned = true;
    }
    ASSERT_TRUE((*w)->add_tensor(t.desc, payload).ok());
  }
  ASSERT_TRUE(poisoned);
  ASSERT_TRUE((*w)->finish((*r)->metadata()).ok());
}

}  // namespace

// NaN weights once gave "score": null with exit 0: each such record is an error record.
TEST(CliClassify, NonFiniteOutputsAreErrorRecords) {
  std::string dir = temp_dir("cli_classify_nan");
  std::string model = convert_encoder_fixture("bert-odd", dir);
  write_with_nan_bias(model, dir + "/nan.sparq");
  auto r = run_sparq({"classify", dir + "/nan.sparq", "-i", "-"}, "{\"id\": \"a\", \"text\": \"hello world\"}\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json record = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(record.is_object()) << r.out;
  EXPECT_EQ(record["error"]["code"], "non_finite_output") << r.out;
  EXPECT_FALSE(record.contains("score"));
}

// A FIFO given as the model once blocked open() forever (ctest's timeout would fire).
TEST(CliClassify, AFifoAsTheModelIsRefusedNotWaitedOn) {
  std::string dir = temp_dir("cli_classify_fifo");
  std::string fifo = dir + "/model.sparq";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto r = run_sparq({"classify", fifo, "-i", "-"}, "{\"text\": \"x\"}\n");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(fifo + ": a FIFO, not a regular file"), std::string::npos) << r.err;
}
