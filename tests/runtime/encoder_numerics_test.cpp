// EncoderModel against PyTorch: Hugging Face-layout checkpoints with random weights and
// their PyTorch outputs (tests/runtime/fixtures/encoders, made by make_encoder_fixtures.py,
// which re-implements the Hugging Face modules in torch) are imported with
// import_hf_checkpoint and run on the same token batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "cli_runner.h"
#include "encoder_numerics.h"
#include "formats/sparq_reader.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

const std::string kFixtures = std::string(SPARQ_SOURCE_DIR) + "/tests/runtime/fixtures/encoders/";
const char* const kAllFixtures[] = {"bert-odd", "bert-odd-sparse", "bert-gelu-tanh",
                                    "roberta-cls", "distilbert-cls", "minilm-st"};

std::string out_dir() {
  static const std::string dir = test::temp_dir("encoder_numerics");
  return dir;
}

// f32 weights: the bound, 1e-4 absolute on logits, embeddings and hidden states.
// (Measured: a few 1e-6; the difference is f32 summation order and exp/erf/tanh
// approximations in the kernels.)
constexpr double kF32AbsTolerance = 1e-4;

TEST(EncoderNumerics, F32MatchesPyTorch) {
  for (const char* name : kAllFixtures) {
    SCOPED_TRACE(name);
    const json ref = test::read_reference(kFixtures + name);
    auto model = test::convert_and_load(kFixtures + name, "f32", out_dir() + "/" + name + ".f32.sparq");
    ASSERT_TRUE(model);
    if (ref.contains("pooling")) {
      EXPECT_EQ(nlohmann::json(model->config().pooling), ref["pooling"]);
      EXPECT_EQ(model->config().normalize, ref["normalize"].get<bool>());
    }
    const test::FixtureComparison c = test::compare_with_pytorch(*model, ref);
    EXPECT_LE(c.head.max_abs, kF32AbsTolerance);
    EXPECT_LE(c.hidden.max_abs, kF32AbsTolerance);
    std::cout << name << " f32: max |Δ| head " << c.head.max_abs << ", hidden " << c.hidden.max_abs << "\n";
  }
}

// The pruned fixture must really run on the sparse kernels, or its check would repeat the
// dense one.
TEST(EncoderNumerics, PrunedCheckpointStaysSparse) {
  const std::string path = out_dir() + "/sparse.f32.sparq";
  auto model = test::convert_and_load(kFixtures + "bert-odd-sparse", "f32", path);
  ASSERT_TRUE(model);
  auto reader = formats::SparqReader::open(path);
  ASSERT_TRUE(reader.ok());
  int sparse = 0;
  for (const formats::TensorView& t : (*reader)->tensors()) {
    if (t.desc.name.starts_with("layers.") && t.desc.name.ends_with("weight") &&
        t.desc.name.find("norm") == std::string::npos) {
      EXPECT_TRUE(t.desc.encoding == formats::Encoding::csr || t.desc.encoding == formats::Encoding::bsr)
          << t.desc.name << " is " << t.desc.encoding_string();
      ++sparse;
    }
  }
  EXPECT_EQ(sparse, 8);  // 2 layers x (qkv, output, up, down)
  for (const std::string& line : model->describe_kernels()) std::cout << line << "\n";
}

// Argmax agreement with PyTorch on the fixture's 200 random sequences. With every logit
// within δ of PyTorch's, the top class can only change where PyTorch's top-2 margin is
// below 2δ (both logits moving δ towards each other): such sequences must keep their class,
// which puts a floor of "fraction of sequences with margin > 2δ" under the agreement — and
// the 99.5 % applies wherever the fixture's margins allow that much.
struct Agreement {
  double agreement = 0, floor = 0;
};

Agreement argmax_agreement(EncoderModel& model, const json& set, int32_t pad_id, double delta) {
  const TokenBatch batch = test::batch_of(set["sequences"], pad_id);
  const size_t labels = model.config().num_labels;
  std::vector<float> logits(batch.batch * labels);
  EXPECT_TRUE(model.classify(batch, logits).ok());
  size_t agree = 0, separated = 0;
  for (size_t i = 0; i < batch.batch; ++i) {
    std::vector<double> want = set["logits"][i].get<std::vector<double>>();
    const size_t a = std::max_element(want.begin(), want.end()) - want.begin();
    const size_t b = std::max_element(logits.begin() + i * labels, logits.begin() + (i + 1) * labels) -
                     (logits.begin() + i * labels);
    std::sort(want.rbegin(), want.rend());
    const bool must_agree = want[0] - want[1] > 2 * delta;
    separated += must_agree;
    agree += a == b;
    if (must_agree) {
      EXPECT_EQ(a, b) << "sequence " << i << ": margin " << want[0] - want[1] << " > 2δ = " << 2 * delta;
    }
  }
  const double n = double(batch.batch);
  return {agree / n, std::min(0.995, separated / n)};
}

// Bounds of the quantized conversions against PyTorch f32, with δ = max_logit_error times
// the batch's largest |logit|. q8 rounds each weight row and each activation row to 1/254 of
// its range, and two layers plus the head add up to a few percent on the logits (measured
// ≤ 4.2 %, roberta-cls); q4 with groups of 32 rounds weights to 1/15 of a group's
// range, about 17x coarser, and on these narrow models the logits move by up to ~40 % of the
// largest (roberta-cls), hence much looser bounds. Hidden-state cosines sit
// higher than the heads' because the LayerNorm biases they share dominate them.
struct QuantizedBound {
  const char* weights;
  double min_head_cosine, min_hidden_cosine;
  double max_logit_error;
  // q4's δ leaves no sequence of these fixtures a margin above 2δ: no argmax floor to check.
  bool check_argmax;
};

TEST(EncoderNumerics, QuantizedWithinBounds) {
  const QuantizedBound bounds[] = {
      {"q8", 0.999, 0.999, 0.08, true},
      {"q4:g32", 0.9, 0.99, 0.6, false},
  };
  for (const QuantizedBound& q : bounds) {
    for (const char* name : kAllFixtures) {
      SCOPED_TRACE(std::string(name) + " " + q.weights);
      const json ref = test::read_reference(kFixtures + name);
      auto model = test::convert_and_load(kFixtures + name, q.weights,
                                          out_dir() + "/" + name + "." + q.weights + ".sparq");
      ASSERT_TRUE(model);
      const test::FixtureComparison c = test::compare_with_pytorch(*model, ref);
      double largest = 0;
      for (const json& row : ref.contains("logits") ? ref["logits"] : ref["embeddings"]) {
        for (const json& v : row) largest = std::max(largest, std::fabs(v.get<double>()));
      }
      EXPECT_GE(c.head.cosine(), q.min_head_cosine);
      EXPECT_GE(c.hidden.cosine(), q.min_hidden_cosine);
      EXPECT_LE(c.head.max_abs, q.max_logit_error * largest);
      std::cout << name << " " << q.weights << ": cosine head " << c.head.cosine() << ", hidden "
                << c.hidden.cosine() << ", max |Δ| head " << c.head.max_abs << " (largest " << largest << ")";
      if (q.check_argmax && ref.contains("argmax_set")) {
        const Agreement a = argmax_agreement(*model, ref["argmax_set"], ref["pad_id"].get<int32_t>(),
                                             q.max_logit_error * largest);
        EXPECT_GE(a.agreement, a.floor);
        std::cout << ", argmax agreement " << a.agreement << " (floor " << a.floor << ")";
      }
      std::cout << "\n";
    }
  }
}

}  // namespace
}  // namespace sparq::runtime
