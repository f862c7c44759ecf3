// TextGenerator against a plain loop written here (one sequence, DecoderModel::forward,
// Sampler): continuous batching over fewer slots than requests must give every request the
// tokens it gets alone; the streamed pieces must add up to the text; stop strings, EOS,
// max tokens and over-long prompts end a request the documented way.
#include <gtest/gtest.h>

#include <fmt/core.h>

#include <map>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "formats/encoding_spec.h"
#include "formats/input_file.h"
#include "runtime/convert/synthetic_model.h"
#include "runtime/jobs/model_tokenizer.h"
#include "runtime/jobs/text_generator.h"
#include "sparq_file_edit.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

json g_tokenizer;  // the fixture tokenizer, for rewrite_sparq's function-pointer edit
json g_generation;

// A random-weight llama-tiny with the SentencePiece-BPE fixture tokenizer and `eos`.
std::string make_model(const std::string& name, const std::vector<int64_t>& eos) {
  static const std::string dir = test::temp_dir("text_generator");
  auto tok = formats::load_json_file(std::string(SPARQ_SOURCE_DIR) + "/tests/tokenizers/fixtures/sp-bpe-llama2/tokenizer.json");
  EXPECT_TRUE(tok.ok());
  g_tokenizer = *tok;
  SynthOptions o;
  o.architecture = *architecture_preset("llama", "llama-tiny");
  o.architecture["vocab_size"] = g_tokenizer["model"]["vocab"].size();
  o.architecture["max_positions"] = 48;
  o.weights = *formats::parse_encode_options("f32");
  o.embeddings = o.weights;
  o.seed = 5;
  const std::string raw = dir + "/" + name + "-raw.sparq", path = dir + "/" + name + ".sparq";
  EXPECT_TRUE(write_synthetic_model(o, raw).ok());
  g_generation = {{"bos_token_id", 1}, {"eos_token_ids", eos}};
  test::rewrite_sparq(raw, path, [](const std::string&) { return true; }, [](json& m) {
    m["tokenizer"] = g_tokenizer;
    m["generation"] = g_generation;
  });
  return path;
}

struct Loaded {
  std::unique_ptr<DecoderModel> model;
  std::shared_ptr<const Tokenizer> tokenizer;
};

Loaded load(const std::string& path) {
  auto m = DecoderModel::load(path);
  EXPECT_TRUE(m.ok()) << m.error().message();
  auto t = tokenizer_from_metadata((*m)->metadata(), path, (*m)->config().vocab_size);
  EXPECT_TRUE(t.ok()) << t.error().message();
  return {std::move(*m), *t};
}

// The reference: one sequence, the whole prompt then one token per forward, until
// max_tokens or an EOS id.
std::vector<int32_t> plain_loop(DecoderModel& m, const GenerationRequest& r) {
  auto cache = m.make_cache(1);
  const size_t V = m.config().vocab_size;
  Sampler sampler(r.sampling);
  sampler.observe_prompt(r.prompt);
  std::vector<float> logits(V);
  std::vector<int32_t> out;
  DecodeStep step{.slot = 0, .tokens = r.prompt};
  const auto& eos = m.generation().eos_token_ids;
  while (out.size() < r.max_tokens) {
    EXPECT_TRUE(m.forward({&step, 1}, *cache, logits).ok());
    out.push_back(sampler.sample(logits).token);
    if (std::find(eos.begin(), eos.end(), out.back()) != eos.end()) break;
    step.tokens = std::span(&out.back(), 1);
  }
  return out;
}

struct Outcome {
  std::map<size_t, Result<GenerationResult>> results;
  std::map<size_t, std::string> streamed;
};

Outcome generate(Loaded& l, const std::vector<GenerationRequest>& requests, size_t slots) {
  auto cache = l.model->make_cache(slots);
  EXPECT_TRUE(cache.ok());
  TextGenerator g(*l.model, l.tokenizer, *cache);
  Outcome o;
  Status s = g.run(
      requests, [&](size_t i, std::string_view text) { o.streamed[i] += text; },
      [&](size_t i, Result<GenerationResult> r) {
        EXPECT_FALSE(o.results.count(i)) << "request " << i << " finished twice";
        o.results.emplace(i, std::move(r));
      });
  EXPECT_TRUE(s.ok()) << s.error().message();
  return o;
}

// The text a continuation adds to its prompt, as Hugging Face's pipeline cuts it.
std::string continuation(const Tokenizer& t, const std::vector<int32_t>& prompt, std::vector<int32_t> generated) {
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), generated.begin(), generated.end());
  return t.decode(all, true).substr(t.decode(prompt, true).size());
}

TEST(TextGenerator, BatchedRequestsGetWhatTheyGetAlone) {
  Loaded l = load(make_model("batched", {2}));
  std::vector<GenerationRequest> requests;
  const char* prompts[] = {"Package: zstd", "fast lossless compression", "Section: utils\nDescription:", "a", "Ünïcödé ✓"};
  for (int i = 0; i < 5; ++i) {
    GenerationRequest r;
    r.prompt = *prompt_tokens(*l.tokenizer, prompts[i]);
    r.max_tokens = size_t(6 + 3 * i);
    if (i % 2) r.sampling = {.temperature = 1.0, .top_k = 50, .seed = uint64_t(100 + i)};
    r.ignore_eos = i == 4;
    requests.push_back(r);
  }
  const Outcome o = generate(l, requests, 2);
  ASSERT_EQ(o.results.size(), 5u);
  for (size_t i = 0; i < requests.size(); ++i) {
    const Result<GenerationResult>& r = o.results.at(i);
    ASSERT_TRUE(r.ok()) << r.error().message();
    GenerationRequest alone = requests[i];
    const std::vector<int32_t> want = plain_loop(*l.model, alone);
    if (!alone.ignore_eos || std::find(want.begin(), want.end(), 2) == want.end()) {
      EXPECT_EQ(r->tokens, want) << "request " << i;
    }
    std::vector<int32_t> text_tokens = r->tokens;
    if (r->finish == FinishReason::eos) text_tokens.pop_back();
    EXPECT_EQ(r->text, continuation(*l.tokenizer, alone.prompt, text_tokens)) << "request " << i;
    EXPECT_EQ(o.streamed.count(i) ? o.streamed.at(i) : "", r->text) << "request " << i;
    EXPECT_EQ(r->finish, r->tokens.size() == alone.max_tokens && r->tokens.back() != 2 ? FinishReason::length
                                                                                          : FinishReason::eos);
    EXPECT_EQ(r->prompt_tokens, alone.prompt.size());
    EXPECT_EQ(r->sampled.size(), r->tokens.size());
  }
}

// The stepping API a server drives: requests join while others decode, prompts are fed in
// chunks of two tokens, one request is cancelled half way; each finished one is what it is
// alone (the plain loop feeds whole prompts).
TEST(TextGenerator, RequestsJoiningBetweenStepsWithChunkedPrefillGetWhatTheyGetAlone) {
  Loaded l = load(make_model("stepped", {2}));
  std::vector<GenerationRequest> requests;
  const char* prompts[] = {"Package: zstd", "fast lossless compression of files", "Section: utils\nDescription:", "a"};
  for (int i = 0; i < 4; ++i) {
    GenerationRequest r;
    r.prompt = *prompt_tokens(*l.tokenizer, prompts[i]);
    r.max_tokens = size_t(5 + 2 * i);
    r.ignore_eos = true;
    if (i % 2) r.sampling = {.temperature = 0.8, .top_k = 40, .seed = uint64_t(7 + i)};
    requests.push_back(r);
  }
  auto cache = l.model->make_cache(2);
  ASSERT_TRUE(cache.ok());
  TextGenerator g(*l.model, l.tokenizer, *cache, /*prefill_chunk=*/2);
  std::map<size_t, GenerationResult> done;
  std::map<size_t, std::string> streamed;
  const auto on_text = [&](size_t i, std::string_view text) { streamed[i] += text; };
  const auto on_done = [&](size_t i, Result<GenerationResult> r) {
    ASSERT_TRUE(r.ok()) << r.error().message();
    done.emplace(i, std::move(*r));
  };
  ASSERT_TRUE(g.add(0, requests[0]).ok());
  ASSERT_TRUE(g.step(on_text, on_done).ok());
  ASSERT_TRUE(g.add(9, requests[1]).ok());  // cancelled below
  ASSERT_TRUE(g.step(on_text, on_done).ok());
  EXPECT_EQ(g.free_slots(), 0u);
  g.cancel(9);
  EXPECT_EQ(g.free_slots(), 1u);
  size_t next = 1;
  while (g.active() > 0 || next < requests.size()) {
    for (; next < requests.size() && g.free_slots() > 0; ++next) ASSERT_TRUE(g.add(next, requests[next]).ok());
    ASSERT_TRUE(g.step(on_text, on_done).ok());
  }
  ASSERT_EQ(done.size(), requests.size());
  EXPECT_FALSE(done.count(9));
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(done.at(i).tokens, plain_loop(*l.model, requests[i])) << "request " << i;
    EXPECT_EQ(streamed[i], done.at(i).text) << "request " << i;
  }
  // A request that cannot run is refused by add() and takes no slot.
  GenerationRequest empty;
  EXPECT_FALSE(g.add(5, empty).ok());
  EXPECT_EQ(g.free_slots(), 2u);
}

TEST(TextGenerator, StopStringsEndTheText) {
  Loaded l = load(make_model("stop", {}));
  GenerationRequest r;
  r.prompt = *prompt_tokens(*l.tokenizer, "Package: zstd");
  r.max_tokens = 20;
  r.sampling = {.temperature = 1.0, .seed = 7};  // varied text
  const Outcome free_run = generate(l, {r}, 1);
  const std::string full = free_run.results.at(0)->text;
  ASSERT_GE(full.size(), 8u) << full;
  // A stop string from the middle of the text: the text ends where it first occurs.
  const std::string stop = full.substr(full.size() / 2, 3);
  r.stop = {"never appears \x01", stop};
  const Outcome stopped = generate(l, {r}, 1);
  const GenerationResult& s = *stopped.results.at(0);
  EXPECT_EQ(s.finish, FinishReason::stop);
  EXPECT_EQ(s.text, full.substr(0, full.find(stop)));
  EXPECT_EQ(stopped.streamed.count(0) ? stopped.streamed.at(0) : "", s.text);
}

TEST(TextGenerator, EosEndsARequestAndIsNotInTheText) {
  // The token greedy decoding produces third becomes EOS.
  Loaded probe_model = load(make_model("eos-probe", {}));
  GenerationRequest r;
  r.prompt = *prompt_tokens(*probe_model.tokenizer, "Package: zstd");
  r.max_tokens = 6;
  const std::vector<int32_t> greedy = plain_loop(*probe_model.model, r);
  const int32_t eos = greedy[2];
  const size_t first = size_t(std::find(greedy.begin(), greedy.end(), eos) - greedy.begin());
  Loaded l = load(make_model("eos", {eos}));
  const Outcome stopped = generate(l, {r}, 1);
  const GenerationResult& g = *stopped.results.at(0);
  EXPECT_EQ(g.finish, FinishReason::eos);
  EXPECT_EQ(g.tokens, std::vector<int32_t>(greedy.begin(), greedy.begin() + first + 1));
  EXPECT_EQ(g.text, continuation(*l.tokenizer, r.prompt, std::vector<int32_t>(greedy.begin(), greedy.begin() + first)));
  r.ignore_eos = true;
  const Outcome ran_on = generate(l, {r}, 1);
  const GenerationResult& ignored = *ran_on.results.at(0);
  EXPECT_EQ(ignored.finish, FinishReason::length);
  EXPECT_EQ(ignored.tokens.size(), 6u);
}

TEST(TextGenerator, AnOverlongPromptFailsAloneAndTheContextEndsARequest) {
  Loaded l = load(make_model("long", {}));
  GenerationRequest fits, too_long, fills;
  fits.prompt = *prompt_tokens(*l.tokenizer, "Package: zstd");
  fits.max_tokens = 3;
  too_long.prompt.assign(48, 5);
  fills.prompt.assign(45, 7);
  fills.max_tokens = 10;
  const Outcome o = generate(l, {fits, too_long, fills}, 2);
  ASSERT_TRUE(o.results.at(0).ok());
  ASSERT_FALSE(o.results.at(1).ok());
  EXPECT_NE(o.results.at(1).error().message().find("the context holds 48"), std::string::npos)
      << o.results.at(1).error().message();
  ASSERT_TRUE(o.results.at(2).ok());
  EXPECT_EQ(o.results.at(2)->tokens.size(), 3u) << "prompt and generated tokens share the context: 45 + 3 = 48";
  EXPECT_EQ(o.results.at(2)->finish, FinishReason::length);
}

}  // namespace
}  // namespace sparq::runtime
