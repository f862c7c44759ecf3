// EncoderModel against PyTorch at BERT-base size (12 layers, hidden 768, 12 heads, FFN 3072,
// vocab 30522): the checkpoint (~440 MB) is generated at test time by
// make_encoder_fixtures.py --bert-base into the build tree (ctest fixture
// encoder.bert_base_checkpoint, tests/CMakeLists.txt) and its directory handed over in
// SPARQ_BERT_BASE_DIR. Native builds only: too large for ASan and qemu runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "cli_runner.h"
#include "runtime/encoder_numerics.h"

namespace sparq::runtime {
namespace {

TEST(EncoderNumerics, BertBase) {
  const char* dir = std::getenv("SPARQ_BERT_BASE_DIR");
  ASSERT_TRUE(dir && *dir) << "SPARQ_BERT_BASE_DIR is not set (the ctest fixture generates the checkpoint)";
  ASSERT_TRUE(std::filesystem::exists(std::string(dir) + "/reference.json"))
      << dir << ": no reference.json (did make_encoder_fixtures.py --bert-base run?)";
  const nlohmann::json ref = test::read_reference(dir);
  const std::string out = test::temp_dir("encoder_bert_base");

  auto f32 = test::convert_and_load(dir, "f32", out + "/bert-base.f32.sparq");
  ASSERT_TRUE(f32);
  const test::FixtureComparison c = test::compare_with_pytorch(*f32, ref);
  // The bound, as for the small fixtures; 12 layers of 768/3072-long f32 sums in a
  // different order than PyTorch's stay well inside it.
  EXPECT_LE(c.head.max_abs, 1e-4);
  EXPECT_LE(c.hidden.max_abs, 1e-4);
  std::cout << "bert-base f32: max |Δ| logits " << c.head.max_abs << ", hidden " << c.hidden.max_abs << "\n";
  f32.reset();

  auto q8 = test::convert_and_load(dir, "q8", out + "/bert-base.q8.sparq");
  ASSERT_TRUE(q8);
  const test::FixtureComparison q = test::compare_with_pytorch(*q8, ref);
  // The small fixtures' q8 bounds (encoder_numerics_test.cpp, QuantizedWithinBounds) on the
  // hidden states and on |Δ logit| (8 % of the largest logit); the cosine of the 8 logits
  // gets 0.995, since the rounding of 12 layers instead of 2 adds up (measured 0.9985).
  double largest = 0;
  for (const auto& row : ref["logits"]) {
    for (const auto& v : row) largest = std::max(largest, std::fabs(v.get<double>()));
  }
  EXPECT_GE(q.hidden.cosine(), 0.999);
  EXPECT_GE(q.head.cosine(), 0.995);
  EXPECT_LE(q.head.max_abs, 0.08 * largest);
  std::cout << "bert-base q8: cosine logits " << q.head.cosine() << ", hidden " << q.hidden.cosine()
            << ", max |Δ| logits " << q.head.max_abs << " (largest " << largest << ")\n";
}

}  // namespace
}  // namespace sparq::runtime
