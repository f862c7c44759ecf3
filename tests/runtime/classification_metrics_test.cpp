// Metrics on small cases worked by hand.
#include <gtest/gtest.h>

#include "runtime/jobs/classification_metrics.h"

namespace sparq::runtime {
namespace {

TEST(ClassificationMetrics, HandWorkedThreeClassExample) {
  // gold:      a a a b b c
  // predicted: a a b b c c
  // a: tp 2, predicted 2, support 3 -> p 1, r 2/3, f1 0.8
  // b: tp 1, predicted 2, support 2 -> p 1/2, r 1/2, f1 1/2
  // c: tp 1, predicted 2, support 1 -> p 1/2, r 1, f1 2/3
  auto m = classification_metrics({"a", "b", "c"}, {"a", "a", "a", "b", "b", "c"}, {"a", "a", "b", "b", "c", "c"});
  EXPECT_EQ(m.examples, 6u);
  EXPECT_DOUBLE_EQ(m.accuracy, 4.0 / 6.0);
  ASSERT_EQ(m.classes.size(), 3u);
  EXPECT_DOUBLE_EQ(m.classes[0].f1, 0.8);
  EXPECT_DOUBLE_EQ(m.classes[1].f1, 0.5);
  EXPECT_DOUBLE_EQ(m.classes[2].f1, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.macro_f1, (0.8 + 0.5 + 2.0 / 3.0) / 3.0);
  EXPECT_EQ(m.confusion[0], (std::vector<uint64_t>{2, 1, 0}));
  EXPECT_EQ(m.confusion[1], (std::vector<uint64_t>{0, 1, 1}));
}

TEST(ClassificationMetrics, ClassesNeverSeenAreNotAveragedAndUnknownGoldLabelsCount) {
  // "d" is in the model but absent from gold and predictions: not in the average.
  // "zz" is a gold label the model does not have: always wrong, recall 0, f1 0.
  auto m = classification_metrics({"a", "b", "d"}, {"a", "b", "zz"}, {"a", "b", "a"});
  EXPECT_DOUBLE_EQ(m.accuracy, 2.0 / 3.0);
  ASSERT_EQ(m.classes.size(), 3u);  // a, b, zz
  EXPECT_EQ(m.classes[2].label, "zz");
  EXPECT_DOUBLE_EQ(m.classes[2].f1, 0.0);
  // a: p 1/2, r 1 -> 2/3; b: 1; zz: 0
  EXPECT_DOUBLE_EQ(m.macro_f1, (2.0 / 3.0 + 1.0 + 0.0) / 3.0);
  EXPECT_EQ(m.labels.back(), "zz");
}

TEST(ClassificationMetrics, EmptyInputIsZeroNotNan) {
  auto m = classification_metrics({"a"}, {}, {});
  EXPECT_EQ(m.examples, 0u);
  EXPECT_EQ(m.accuracy, 0.0);
  EXPECT_EQ(m.macro_f1, 0.0);
}

}  // namespace
}  // namespace sparq::runtime
