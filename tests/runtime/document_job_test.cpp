// The batch engine as a library (runtime/jobs/document_job.h), driven without the CLI: one
// result per input record in input order, each equal to what the model computes for that
// document alone (one document per forward pass: no batching, sorting or chunking to get
// wrong), progress reported per forward pass, and the summary given once.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "runtime/jobs/document_job.h"
#include "runtime/model/encoder_model.h"
#include "sparq_file_edit.h"

namespace {

using namespace sparq;
using namespace sparq::runtime;

const std::string kModel = sparq::test::default_model_path();

struct Collected {
  std::vector<nlohmann::json> ids;
  std::vector<std::vector<float>> logits;
  std::vector<std::string> errors;
};

class CollectSink final : public ResultSink {
 public:
  explicit CollectSink(Collected& c) : c_(c) {}
  Status write(const Document& doc, const DocumentOutput& out, RecordOutcome&) override {
    c_.ids.push_back(doc.id);
    c_.logits.push_back(out.values);
    c_.errors.push_back(out.error ? out.error->code : "");
    return {};
  }
  Status finish() override { return {}; }

 private:
  Collected& c_;
};

// The logits of one document through the model's own API, alone in its batch.
std::vector<float> logits_alone(EncoderModel& model, const Tokenizer& tokenizer, const std::string& text,
                                size_t max_length) {
  Result<Encoding> e = tokenizer.encode(text, max_length);
  EXPECT_TRUE(e) << e.error().message();
  TokenBatch batch;
  batch.batch = 1;
  batch.seq_len = e->ids.size();
  batch.ids = e->ids;
  batch.type_ids = e->type_ids;
  batch.lengths = {int32_t(e->ids.size())};
  std::vector<float> logits(model.config().num_labels);
  EXPECT_TRUE(model.classify(batch, logits).ok());
  return logits;
}

TEST(DocumentJob, RunsFromTheLibraryInInputOrderWithProgressPerForwardPass) {
  const std::string dir = test::temp_dir("document_job");
  std::ifstream samples(sparq::test::sample_docs_path());
  std::vector<std::string> lines, texts;
  for (std::string line; lines.size() < 60 && std::getline(samples, line);) {
    lines.push_back(line);
    texts.push_back(nlohmann::json::parse(line)["text"]);
  }
  // A bad record in the middle: it gets an error, the job goes on.
  lines.insert(lines.begin() + 30, "{\"id\": \"broken\", \"text\": ");
  std::ofstream(dir + "/docs.jsonl") << [&] {
    std::string all;
    for (const std::string& l : lines) all += l + "\n";
    return all;
  }();

  DocumentJobOptions o;
  o.model = kModel;
  o.input = dir + "/docs.jsonl";
  o.output = dir + "/out.jsonl";
  o.resumable = true;
  o.chunk = 16;
  o.batching.max_batch = 4;
  o.batching.max_length = 64;
  Collected got;
  std::vector<uint64_t> progress;
  int done_calls = 0;
  JobObserver observer;
  observer.progress = [&](const JobProgress& p) { progress.push_back(p.records); };
  observer.done = [&](const JobSummary& s) {
    ++done_calls;
    EXPECT_EQ(s.records, lines.size());
  };
  auto sink = [&](const EncoderModel&, OutputFile&) -> Result<std::unique_ptr<ResultSink>> {
    return std::unique_ptr<ResultSink>(new CollectSink(got));
  };
  Result<JobSummary> summary = run_document_job(o, EncoderTask::classify, sink, observer);
  ASSERT_TRUE(summary) << summary.error().message();
  EXPECT_EQ(done_calls, 1);
  EXPECT_EQ(summary->records, lines.size());
  EXPECT_EQ(summary->errors_by_code.at("malformed_json"), 1u);

  auto model = EncoderModel::load(kModel);
  ASSERT_TRUE(model) << model.error().message();
  auto pipeline = EncoderPipeline::create(**model, EncoderTask::classify, o.batching);
  ASSERT_TRUE(pipeline);
  ASSERT_EQ(got.logits.size(), lines.size());
  for (size_t i = 0, t = 0; i < lines.size(); ++i) {
    if (i == 30) {
      EXPECT_EQ(got.errors[i], "malformed_json");
      continue;
    }
    EXPECT_EQ(got.errors[i], "") << i;
    const std::vector<float> want = logits_alone(**model, (*pipeline)->tokenizer(), texts[t++], 64);
    ASSERT_EQ(got.logits[i].size(), want.size());
    for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(got.logits[i][k], want[k], 1e-4) << i << "," << k;
  }
  // 61 records in chunks of 16 and batches of at most 4: more reports than chunks, never
  // going back, ending at every record.
  EXPECT_GT(progress.size(), 2 * ((lines.size() + 15) / 16));
  for (size_t i = 1; i < progress.size(); ++i) EXPECT_GE(progress[i], progress[i - 1]);
  EXPECT_EQ(progress.back(), lines.size());
}

// A model whose metadata.tokenizer is not a tokenizer (`"tokenizer": 42`) was once reported as
// carrying no tokenizer at all; a missing one is reported as missing. Both name the file.
TEST(EncoderPipeline, SaysWhatIsWrongWithTheModelsTokenizer) {
  const std::string dir = test::temp_dir("pipeline_tokenizer");
  const std::string number = dir + "/number.sparq", missing = dir + "/missing.sparq";
  auto all = [](const std::string&) { return true; };
  test::rewrite_sparq(kModel, number, all, [](nlohmann::json& m) { m["tokenizer"] = 42; });
  test::rewrite_sparq(kModel, missing, all, [](nlohmann::json& m) { m.erase("tokenizer"); });
  for (auto [path, expect] : {std::pair{number, "metadata.tokenizer: expected a tokenizer object, got number"},
                              {missing, "carries no tokenizer"}}) {
    auto model = EncoderModel::load(path);
    ASSERT_TRUE(model) << model.error().message();
    auto pipeline = EncoderPipeline::create(**model, EncoderTask::classify, {});
    ASSERT_FALSE(pipeline) << path;
    EXPECT_NE(pipeline.error().message().find(path), std::string::npos) << pipeline.error().message();
    EXPECT_NE(pipeline.error().message().find(expect), std::string::npos) << pipeline.error().message();
  }
}

}  // namespace
