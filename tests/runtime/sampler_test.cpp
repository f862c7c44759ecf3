// Sampler against the definitions it implements: greedy is the argmax; draws follow
// softmax(logits / temperature) restricted to the top-k / top-p / min-p set, checked by
// frequency over many draws against probabilities computed here in double; penalties move
// the logits as Hugging Face (repetition) and OpenAI (frequency, presence) define; a seed
// reproduces the stream; log-probabilities are the model's log-softmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "runtime/model/sampler.h"

namespace sparq::runtime {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.5f, -1.0f, 0.0f, 2.9f};

// Probabilities of softmax(logits / t) over the tokens in `support`, zero elsewhere.
std::vector<double> reference(const std::vector<float>& logits, double t, const std::vector<int>& support) {
  std::vector<double> p(logits.size(), 0.0);
  double sum = 0;
  for (int i : support) sum += p[i] = std::exp(logits[i] / t);
  for (double& v : p) v /= sum;
  return p;
}

// Draw frequencies of one sampler (no penalties set, so its counts do not shape the draws).
std::vector<double> frequencies(const SamplingOptions& o, const std::vector<float>& logits, int draws) {
  Sampler s(o);
  std::vector<double> f(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) f[size_t(s.sample(logits).token)] += 1.0 / draws;
  return f;
}

void expect_distribution(const SamplingOptions& o, const std::vector<double>& want, const char* what) {
  const int draws = 40000;
  const std::vector<double> got = frequencies(o, kLogits, draws);
  for (size_t i = 0; i < want.size(); ++i) {
    // 5 standard deviations of a binomial frequency, and exact zeros outside the support.
    const double sd = std::sqrt(want[i] * (1 - want[i]) / draws);
    if (want[i] == 0) {
      EXPECT_EQ(got[i], 0.0) << what << " token " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], 5 * sd + 1e-9) << what << " token " << i;
    }
  }
}

TEST(Sampler, GreedyIsTheArgmax) {
  Sampler s({});
  EXPECT_EQ(s.sample(kLogits).token, 1);
  const std::vector<float> tie = {0.5f, 2.0f, 2.0f};
  EXPECT_EQ(Sampler({}).sample(tie).token, 1) << "ties go to the lower id";
}

TEST(Sampler, DrawsFollowTheShapedDistribution) {
  expect_distribution({.temperature = 1.0}, reference(kLogits, 1.0, {0, 1, 2, 3, 4, 5}), "t=1");
  expect_distribution({.temperature = 0.5}, reference(kLogits, 0.5, {0, 1, 2, 3, 4, 5}), "t=0.5");
  expect_distribution({.temperature = 1.0, .top_k = 2}, reference(kLogits, 1.0, {1, 5}), "top_k=2");
  // top_p: sorted probabilities at t=1 are 1: .368, 5: .333, 2: .223, 0: .050, 4: .018, 3: .007;
  // 0.6 needs the first two (.701), 0.8 the first three.
  expect_distribution({.temperature = 1.0, .top_p = 0.6}, reference(kLogits, 1.0, {1, 5}), "top_p=0.6");
  expect_distribution({.temperature = 1.0, .top_p = 0.8}, reference(kLogits, 1.0, {1, 5, 2}), "top_p=0.8");
  // min_p 0.2: keep p >= 0.2 · p(1), i.e. logit >= 3 + ln 0.2 = 1.39: tokens 1, 5, 2.
  expect_distribution({.temperature = 1.0, .min_p = 0.2}, reference(kLogits, 1.0, {1, 5, 2}), "min_p=0.2");
}

TEST(Sampler, TopKOfOneIsGreedyAtAnyTemperature) {
  for (int i = 0; i < 50; ++i) EXPECT_EQ(Sampler({.temperature = 5.0, .top_k = 1, .seed = uint64_t(i)}).sample(kLogits).token, 1);
}

TEST(Sampler, ASeedReproducesTheStream) {
  const SamplingOptions o{.temperature = 1.0, .seed = 42};
  Sampler a(o), b(o), c({.temperature = 1.0, .seed = 43});
  std::vector<int32_t> sa, sb, sc;
  for (int i = 0; i < 64; ++i) {
    sa.push_back(a.sample(kLogits).token);
    sb.push_back(b.sample(kLogits).token);
    sc.push_back(c.sample(kLogits).token);
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
}

TEST(Sampler, PenaltiesMoveTheLogitsAsDefined) {
  // Repetition (HF): tokens 1 and 5 seen in the prompt: 3.0 / 1.3 = 2.31 and 2.9 / 1.3 = 2.23
  // fall below 2.5, so greedy picks 2.
  Sampler rep({.repetition_penalty = 1.3});
  const int32_t prompt[] = {1, 5, 5};
  rep.observe_prompt(prompt);
  EXPECT_EQ(rep.sample(kLogits).token, 2);
  // Negative logits are multiplied: token 3 at -1.0 seen with penalty 0.5 becomes -0.5.
  const std::vector<float> negative = {-0.6f, -1.0f};
  Sampler boost({.repetition_penalty = 0.5});
  const int32_t seen[] = {1};
  boost.observe_prompt(seen);
  EXPECT_EQ(boost.sample(negative).token, 1);
  // Frequency (OpenAI), generated tokens only: 1 (3.0); 5 (2.9 > 2.8); 1 (2.8 > 2.7, 2.5);
  // 5 (2.7 > 2.6, 2.5).
  Sampler freq({.frequency_penalty = 0.2});
  std::vector<int32_t> got;
  for (int i = 0; i < 4; ++i) got.push_back(freq.sample(kLogits).token);
  EXPECT_EQ(got, (std::vector<int32_t>{1, 5, 1, 5}));
  // Presence, a flat penalty once generated: 1 (3.0); 5 (2.9 > 2.0); 2 (2.5 > 2.0, 1.9);
  // then 1 again and again (2.0 > 1.9, 1.5, 1.0): the penalty does not grow with the count.
  Sampler pres({.presence_penalty = 1.0});
  got.clear();
  for (int i = 0; i < 5; ++i) got.push_back(pres.sample(kLogits).token);
  EXPECT_EQ(got, (std::vector<int32_t>{1, 5, 2, 1, 1}));
}

TEST(Sampler, LogprobsAreTheModelsLogSoftmax) {
  double sum = 0;
  for (float l : kLogits) sum += std::exp(double(l));
  Sampler s({.repetition_penalty = 2.0, .top_logprobs = 3});
  const int32_t prompt[] = {1};
  s.observe_prompt(prompt);
  const SampledToken t = s.sample(kLogits);
  EXPECT_EQ(t.token, 5);
  EXPECT_NEAR(t.logprob, kLogits[5] - std::log(sum), 1e-6) << "unshaped by the penalty";
  ASSERT_EQ(t.top.size(), 3u);
  const int32_t order[] = {1, 5, 2};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(t.top[i].token, order[i]);
    EXPECT_NEAR(t.top[i].logprob, kLogits[order[i]] - std::log(sum), 1e-6);
  }
}

TEST(Sampler, ValidateNamesTheOption) {
  EXPECT_TRUE(validate({}).ok());
  Status s = validate({.top_p = 1.5});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("top_p"), std::string::npos);
  EXPECT_FALSE(validate({.temperature = -1}).ok());
  EXPECT_FALSE(validate({.min_p = 2}).ok());
  EXPECT_FALSE(validate({.top_logprobs = 21}).ok());
}

}  // namespace
}  // namespace sparq::runtime
