// DecoderModel on synthetic Llama-family .sparq files: the KV cache must make token-by-token
// decoding give the logits a whole-sequence prefill gives, sequences stepped together must
// give what they give alone, every ISA level must agree with `ref`, and bad steps must fail
// without touching the cache. (Logits against PyTorch: decoder_reference tests.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "formats/encoding_spec.h"
#include "kernels/cpu_features.h"
#include "runtime/convert/synthetic_model.h"
#include "runtime/model/decoder_model.h"

#include <fmt/core.h>

namespace sparq::runtime {
namespace {

using nlohmann::json;

std::string make_llama(const std::string& name, const json& overrides, const std::string& weights = "f32") {
  static const std::string dir = test::temp_dir("decoder_model");
  SynthOptions o;
  o.architecture = *architecture_preset("llama", "llama-tiny");
  for (auto it = overrides.begin(); it != overrides.end(); ++it) o.architecture[it.key()] = it.value();
  o.weights = *formats::parse_encode_options(weights);
  o.embeddings = *formats::parse_encode_options("f32");
  o.seed = 11;
  const std::string path = dir + "/" + name + ".sparq";
  auto r = write_synthetic_model(o, path);
  EXPECT_TRUE(r.ok()) << r.error().message();
  return path;
}

std::vector<int32_t> random_tokens(size_t n, size_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (int32_t& id : t) id = int32_t(rng() % vocab);
  return t;
}

// Logits of every position of `tokens`, fed in chunks of the given sizes (one forward each).
std::vector<float> logits_in_chunks(DecoderModel& m, const std::vector<int32_t>& tokens,
                                    const std::vector<size_t>& chunks,
                                    kernels::KvEncoding kv_cache = kernels::KvEncoding::f32) {
  auto cache = m.make_cache(1, 64, kv_cache);
  EXPECT_TRUE(cache.ok());
  const size_t V = m.config().vocab_size;
  std::vector<float> all;
  size_t at = 0;
  for (size_t n : chunks) {
    DecodeStep step{.slot = 0, .tokens = std::span(tokens).subspan(at, n), .all_logits = true};
    std::vector<float> out(n * V);
    Status s = m.forward({&step, 1}, *cache, out);
    EXPECT_TRUE(s.ok()) << s.error().message();
    all.insert(all.end(), out.begin(), out.end());
    at += n;
  }
  EXPECT_EQ(cache->length(0), tokens.size());
  return all;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, float tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  EXPECT_LE(worst, tol) << what;
}

const json kVariants[] = {
    json::object(),                                                   // Llama: GQA 4 heads / 2 KV heads
    {{"num_kv_heads", 1}},                                            // multi-query
    {{"attention_bias", true}, {"tie_embeddings", true}, {"variant", "qwen2"}},  // Qwen2
    {{"rope_scaling", "llama3"}, {"rope_factor", 8.0}, {"rope_original_max_positions", 16},
     {"rope_theta", 500000.0}},                                       // Llama 3.1
    {{"head_dim", 32}},                                               // heads x head_dim != hidden
};

TEST(DecoderModel, TokenByTokenDecodeEqualsPrefill) {
  int v = 0;
  for (const json& variant : kVariants) {
    // Every variant in f32 with every KV-cache encoding; the quantized kernels on the first one.
    for (const char* weights : {"f32", "q8", "q4:g32"}) {
      if (v > 0 && weights[0] == 'q') continue;
      const std::string name = fmt::format("v{}-{}", v, weights[1] == '4' ? "q4" : weights);
      auto m = DecoderModel::load(make_llama(name, variant, weights));
      ASSERT_TRUE(m.ok()) << m.error().message();
      const std::vector<int32_t> tokens = random_tokens(20, (*m)->config().vocab_size, 3);
      for (kernels::KvEncoding kv : {kernels::KvEncoding::f32, kernels::KvEncoding::f16, kernels::KvEncoding::q8}) {
        if (weights[0] == 'q' && kv != kernels::KvEncoding::f32) continue;
        const std::vector<float> prefill = logits_in_chunks(**m, tokens, {20}, kv);
        std::vector<size_t> ones(15, 1);
        ones.insert(ones.begin(), 5);
        const std::vector<float> stepwise = logits_in_chunks(**m, tokens, ones, kv);
        // The same arithmetic on different row counts: q8/q4 quantize each activation row on
        // its own, so only the matmul blocking and attention's key blocks differ. The cache
        // encodes each (position, KV head) vector on its own, so chunking does not change
        // what f16 and q8 caches hold either.
        expect_close(prefill, stepwise, 2e-4f,
                     name + " KV cache " + kernels::kv_encoding_name(kv) + " " + variant.dump());
      }
    }
    ++v;
  }
}

TEST(DecoderModel, SequencesSteppedTogetherEqualAlone) {
  auto m = DecoderModel::load(make_llama("batch", kVariants[0]));
  ASSERT_TRUE(m.ok());
  DecoderModel& model = **m;
  const size_t V = model.config().vocab_size;
  const std::vector<int32_t> a = random_tokens(9, V, 1), b = random_tokens(4, V, 2);
  // Alone: a's prefill; b's prefill of 3 then one decode step.
  const std::vector<float> a_alone = logits_in_chunks(model, a, {9});
  const std::vector<float> b_alone = logits_in_chunks(model, b, {3, 1});
  // Together: b's prefill first, then a's prefill and b's decode step in one forward.
  auto cache = model.make_cache(2, 32);
  ASSERT_TRUE(cache.ok());
  DecodeStep first{.slot = 1, .tokens = std::span(b).first(3), .all_logits = true};
  std::vector<float> b_prefill(3 * V);
  ASSERT_TRUE(model.forward({&first, 1}, *cache, b_prefill).ok());
  const DecodeStep both[] = {{.slot = 0, .tokens = a, .all_logits = true},
                             {.slot = 1, .tokens = std::span(b).subspan(3), .all_logits = false}};
  ASSERT_EQ(DecoderModel::logit_rows(both), 10u);
  std::vector<float> out(10 * V);
  ASSERT_TRUE(model.forward(both, *cache, out).ok());
  expect_close(std::vector<float>(out.begin(), out.begin() + 9 * V), a_alone, 2e-5f, "a in a batch");
  b_prefill.insert(b_prefill.end(), out.begin() + 9 * V, out.end());
  expect_close(b_prefill, b_alone, 2e-5f, "b in a batch");
  EXPECT_EQ(cache->length(0), 9u);
  EXPECT_EQ(cache->length(1), 4u);
}

TEST(DecoderModel, EveryIsaLevelMatchesRef) {
  const std::string path = make_llama("isa", kVariants[0], "q8");
  auto ref = DecoderModel::load(path, {.isa = kernels::Isa::ref});
  ASSERT_TRUE(ref.ok());
  const std::vector<int32_t> tokens = random_tokens(12, (*ref)->config().vocab_size, 5);
  const std::vector<float> want = logits_in_chunks(**ref, tokens, {8, 1, 1, 1, 1});
  for (kernels::Isa isa : kernels::supported_isas(kernels::cpu_info().features)) {
    auto m = DecoderModel::load(path, {.isa = isa});
    ASSERT_TRUE(m.ok()) << m.error().message();
    expect_close(logits_in_chunks(**m, tokens, {8, 1, 1, 1, 1}), want, 2e-4f, std::string(kernels::isa_name(isa)));
  }
}

TEST(DecoderModel, BadStepsFailAndLeaveTheCache) {
  auto m = DecoderModel::load(make_llama("errors", kVariants[0]));
  ASSERT_TRUE(m.ok());
  DecoderModel& model = **m;
  const size_t V = model.config().vocab_size;
  auto cache = model.make_cache(2, 8);
  ASSERT_TRUE(cache.ok());
  const std::vector<int32_t> ok = {1, 2, 3}, bad = {1, int32_t(V)}, long_one = random_tokens(9, V, 4);
  std::vector<float> one(V), three(3 * V), nine(9 * V);
  DecodeStep st{.slot = 0, .tokens = bad};
  Status s = model.forward({&st, 1}, *cache, one);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("outside the vocabulary"), std::string::npos) << s.error().message();
  st = {.slot = 0, .tokens = long_one};
  s = model.forward({&st, 1}, *cache, one);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("exceed the context of 8"), std::string::npos) << s.error().message();
  st = {.slot = 2, .tokens = ok};
  EXPECT_FALSE(model.forward({&st, 1}, *cache, one).ok());
  const DecodeStep twice[] = {{.slot = 1, .tokens = ok}, {.slot = 1, .tokens = ok}};
  EXPECT_FALSE(model.forward(twice, *cache, std::span(three).first(2 * V)).ok());
  st = {.slot = 0, .tokens = ok};
  EXPECT_FALSE(model.forward({&st, 1}, *cache, three).ok()) << "3 rows of logits for 1 wanted";
  EXPECT_EQ(cache->length(0), 0u);
  EXPECT_EQ(cache->length(1), 0u);
  EXPECT_FALSE(model.make_cache(1, model.config().max_positions + 1).ok());
  auto small = model.make_cache(4, 256, kernels::KvEncoding::f32, 1024);
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.error().message().find("MiB"), std::string::npos);
}

TEST(DecoderModel, RefusesAnEncoderFile) {
  static const std::string dir = test::temp_dir("decoder_model_bert");
  SynthOptions o;
  o.architecture = *architecture_preset("bert", "bert-tiny");
  ASSERT_TRUE(write_synthetic_model(o, dir + "/bert.sparq").ok());
  auto m = DecoderModel::load(dir + "/bert.sparq");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("bert.sparq"), std::string::npos) << m.error().message();
}

}  // namespace
}  // namespace sparq::runtime
