// The "calibration" metadata object of a .sparq classifier: what is accepted, and that every
// refusal names the field.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "runtime/model/classifier_calibration.h"

namespace sparq::runtime {
namespace {

using nlohmann::json;

TEST(ClassifierCalibration, StoredTemperatureRoundTripsAndDefaultsToOne) {
  EXPECT_EQ(*stored_temperature(json{{"labels", {"a", "b"}}}), 1.0);
  EXPECT_EQ(*stored_temperature(json{{"calibration", calibration_metadata(1.75)}}), 1.75);
}

TEST(ClassifierCalibration, BadStoredTemperaturesNameTheField) {
  for (const json& bad : {json{{"temperature", 0}}, json{{"temperature", -2}}, json{{"temperature", nullptr}},
                          json{{"temperature", "2"}}, json{{"temperature", 1e6}}, json::object()}) {
    auto t = stored_temperature(json{{"calibration", bad}});
    ASSERT_FALSE(t) << bad.dump();
    EXPECT_NE(t.error().message().find("metadata.calibration.temperature"), std::string::npos) << t.error().message();
    EXPECT_EQ(t.error().kind(), ErrorKind::invalid_input);
  }
  auto not_object = stored_temperature(json{{"calibration", 2}});
  ASSERT_FALSE(not_object);
  EXPECT_NE(not_object.error().message().find("metadata.calibration"), std::string::npos);
  auto unknown = stored_temperature(json{{"calibration", {{"temperature", 2}, {"bias", 1}}}});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("metadata.calibration.bias"), std::string::npos);
}

TEST(ClassifierCalibration, CheckedTemperatureRefusesNonFiniteAndNonPositive) {
  for (double t : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity(), 1e4}) {
    auto r = checked_temperature(t, "--temperature");
    ASSERT_FALSE(r) << t;
    EXPECT_NE(r.error().message().find("--temperature"), std::string::npos);
    EXPECT_EQ(r.error().kind(), ErrorKind::invalid_argument);
  }
  EXPECT_EQ(*checked_temperature(0.5, "--temperature"), 0.5);
}

}  // namespace
}  // namespace sparq::runtime
