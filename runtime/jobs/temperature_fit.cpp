#include "runtime/jobs/temperature_fit.h"

#include <cmath>

namespace sparq::runtime {

TemperatureFit fit_temperature(const LabelledLogits& data) {
  auto nll = [&](double log_t) { return mean_negative_log_likelihood(data, std::exp(log_t)); };
  const double inv_phi = (std::sqrt(5.0) - 1) / 2;
  double lo = std::log(0.01), hi = std::log(100.0);
  double a = hi - inv_phi * (hi - lo), b = lo + inv_phi * (hi - lo);
  double fa = nll(a), fb = nll(b);
  while (hi - lo > 1e-6) {
    if (fa <= fb) {
      hi = b;
      b = a, fb = fa;
      a = hi - inv_phi * (hi - lo);
      fa = nll(a);
    } else {
      lo = a;
      a = b, fa = fb;
      b = lo + inv_phi * (hi - lo);
      fb = nll(b);
    }
  }
  bool any_known = false;
  for (int64_t g : data.gold) any_known |= g >= 0;
  if (!any_known) return {1, 0};
  const double t = std::exp((lo + hi) / 2);
  return {t, mean_negative_log_likelihood(data, t)};
}

}  // namespace sparq::runtime
