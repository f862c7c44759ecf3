#include "runtime/model/classifier_calibration.h"

#include <fmt/core.h>

#include <cmath>

namespace sparq::runtime {

Result<double> checked_temperature(double temperature, const std::string& field, ErrorKind kind) {
  if (!std::isfinite(temperature) || temperature <= 0 || temperature > kMaxTemperature) {
    return Error(fmt::format("{}: expected a temperature in (0, {}], got {}", field, kMaxTemperature, temperature),
                 kind);
  }
  return temperature;
}

Result<double> stored_temperature(const nlohmann::json& metadata) {
  if (!metadata.contains("calibration")) return 1.0;
  const nlohmann::json& c = metadata["calibration"];
  if (!c.is_object()) return Error("metadata.calibration: expected an object");
  for (auto it = c.begin(); it != c.end(); ++it) {
    if (it.key() != "temperature") return Error(fmt::format("metadata.calibration.{}: unknown field", it.key()));
  }
  if (!c.contains("temperature") || !c["temperature"].is_number()) {
    // JSON has no NaN or infinity: a writer that tried stores null.
    return Error(fmt::format("metadata.calibration.temperature: expected a number, got {}",
                             c.contains("temperature") ? c["temperature"].dump() : "nothing"));
  }
  return checked_temperature(c["temperature"].get<double>(), "metadata.calibration.temperature",
                             ErrorKind::invalid_input);
}

nlohmann::json calibration_metadata(double temperature) { return {{"temperature", temperature}}; }

}  // namespace sparq::runtime
