// The generation job as a library (runtime/jobs/generation_job.h), driven without the CLI, as
// a server would: one result per input record in input order, each equal to what a
// TextGenerator with a single slot produces for that prompt alone with the record's seed (no
// chunks, continuous batching or other sequences to get wrong); progress reported as records
// finish; the summary's counts.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "runtime/convert/hf_import.h"
#include "runtime/jobs/generation_job.h"
#include "runtime/jobs/model_tokenizer.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

struct Collected {
  std::vector<uint64_t> index;
  std::vector<GeneratedRecord> records;
};

class CollectSink final : public GenerationSink {
 public:
  explicit CollectSink(Collected& c) : c_(c) {}
  Status write(const Document& doc, const GeneratedRecord& record) override {
    c_.index.push_back(doc.index);
    c_.records.push_back(record);
    return {};
  }
  Status finish() override { return {}; }

 private:
  Collected& c_;
};

std::string debian_llama(const std::string& dir) {
  const std::string path = dir + "/debian-llama.sparq";
  auto imported = import_hf_checkpoint(std::string(SPARQ_SOURCE_DIR) + "/models/debian-llama", {}, path);
  EXPECT_TRUE(imported.ok()) << imported.error().message();
  return path;
}

TEST(GenerationJob, RunsFromTheLibraryEachRecordAsItsPromptAlone) {
  const std::string dir = test::temp_dir("generation_job");
  const json conversation = {{{"role", "user"}, {"content", "What is zstd?"}}};
  const std::vector<json> records = {
      {{"prompt", "Package: zstd\nDescription:"}},
      {{"prompt", "Package: vim\nSection: editors\nDescription:"}, {"max_tokens", 4}},
      {{"messages", conversation}},
      {{"prompt", "Package: gcc\nDescription:"}, {"seed", 77}},
      {{"prompt", "Package: gcc\nDescription:"}, {"temperature", 0}},
      {{"prompt", "Package: bash\nDescription:"}},
      {{"prompt", "Package: curl\nDescription:"}, {"stop", "e"}},
  };
  {
    std::ofstream in(dir + "/prompts.jsonl");
    for (size_t i = 0; i < records.size(); ++i) {
      in << records[i].dump() << "\n";
      if (i == 2) in << "{\"prompt\": \n";  // malformed: an error record at index 3
    }
  }
  GenerationJobOptions o;
  o.model = debian_llama(dir);
  o.input = dir + "/prompts.jsonl";
  o.output = dir + "/out.jsonl";
  o.resumable = true;
  o.chunk = 3;
  o.batch_size = 2;
  o.max_tokens = 10;
  o.threads = 1;
  o.sampling.temperature = 0.9;
  o.sampling.seed = 42;
  Collected got;
  std::vector<uint64_t> progress;
  RecordJobObserver observer;
  observer.progress = [&](const JobProgress& p) { progress.push_back(p.records); };
  auto sink = [&](const DecoderModel&, const Tokenizer&, OutputFile&) -> Result<std::unique_ptr<GenerationSink>> {
    return std::unique_ptr<GenerationSink>(new CollectSink(got));
  };
  Result<GenerationJobSummary> summary = run_generation_job(o, sink, observer);
  ASSERT_TRUE(summary) << summary.error().message();
  const size_t n = records.size() + 1;
  ASSERT_EQ(got.records.size(), n);
  EXPECT_EQ(summary->records, n);
  EXPECT_EQ(summary->errors_by_code, (std::map<std::string, uint64_t>{{"malformed_json", 1}}));

  // The reference: each prompt alone in a one-slot generator, with the record's settings.
  auto model = DecoderModel::load(o.model);
  ASSERT_TRUE(model) << model.error().message();
  auto tokenizer = tokenizer_from_metadata((*model)->metadata(), o.model, (*model)->config().vocab_size);
  ASSERT_TRUE(tokenizer);
  auto cache = (*model)->make_cache(1);
  ASSERT_TRUE(cache);
  TextGenerator alone(**model, *tokenizer, *cache);
  uint64_t generated = 0;
  for (size_t i = 0, r = 0; i < n; ++i) {
    EXPECT_EQ(got.index[i], i);
    const GeneratedRecord& g = got.records[i];
    if (i == 3) {
      ASSERT_TRUE(g.error);
      EXPECT_EQ(g.error->code, "malformed_json");
      continue;
    }
    ASSERT_FALSE(g.error) << i << ": " << g.error->message;
    const json& record = records[r++];
    GenerationRequest request;
    request.max_tokens = record.value("max_tokens", o.max_tokens);
    request.sampling = o.sampling;
    request.sampling.temperature = record.value("temperature", o.sampling.temperature);
    request.sampling.seed = record.value("seed", record_seed(o.sampling.seed, i));
    if (record.contains("stop")) request.stop = {record["stop"].get<std::string>()};
    if (record.contains("messages")) {
      auto chat = chat_prompt(**model, **tokenizer, record["messages"]);
      ASSERT_TRUE(chat) << chat.error().message();
      request.prompt = chat->ids;
    } else {
      request.prompt = *prompt_tokens(**tokenizer, record["prompt"].get<std::string>());
    }
    std::optional<Result<GenerationResult>> want;
    auto on_done = [&](size_t, Result<GenerationResult> res) { want.emplace(std::move(res)); };
    ASSERT_TRUE(alone.run({&request, 1}, {}, on_done));
    ASSERT_TRUE(want && *want) << i;
    EXPECT_EQ(g.result.tokens, (*want)->tokens) << i;
    EXPECT_EQ(g.result.text, (*want)->text) << i;
    EXPECT_EQ(g.result.finish, (*want)->finish) << i;
    EXPECT_EQ(g.seed, request.sampling.seed) << i;
    EXPECT_EQ(g.sampled, request.sampling.temperature > 0) << i;
    generated += g.result.tokens.size();
  }
  EXPECT_EQ(summary->stats.generated_tokens, generated);
  EXPECT_EQ(summary->stats.errors, 1u);
  // Reported as records finish (more often than once per chunk), never going back, ending at
  // every record.
  EXPECT_GT(progress.size(), (n + o.chunk - 1) / o.chunk + 1);
  for (size_t i = 1; i < progress.size(); ++i) EXPECT_GE(progress[i], progress[i - 1]);
  EXPECT_EQ(progress.back(), n);
}

}  // namespace
}  // namespace sparq::runtime
