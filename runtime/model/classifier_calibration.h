// A classifier's calibration as stored in a .sparq file: the metadata object
// "calibration": {"temperature": T}. Probabilities are softmax(logits / T) (T > 1 softens
// over-confident scores); a file without the object has T = 1. `sparq eval --calibrate`
// fits T, `sparq convert --from sparq ... --temperature T` stores it.
#pragma once

#include <nlohmann/json.hpp>

#include "formats/error.h"

namespace sparq::runtime {

// The largest temperature accepted: beyond it every probability is within 1e-3 of uniform
// for logits of a trained classifier, which no fit produces.
inline constexpr double kMaxTemperature = 1000;

// T when it is a finite number in (0, kMaxTemperature]; else an error of `kind` naming
// `field` (the metadata path or the command-line option the value came from).
Result<double> checked_temperature(double temperature, const std::string& field,
                                   ErrorKind kind = ErrorKind::invalid_argument);

// The temperature a file's metadata stores; 1 when it has no "calibration" object.
Result<double> stored_temperature(const nlohmann::json& metadata);

// The metadata object that stores `temperature`.
nlohmann::json calibration_metadata(double temperature);

}  // namespace sparq::runtime
