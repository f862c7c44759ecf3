#include "runtime/plan/economics.h"

#include <limits>

namespace sparq::runtime::planner {

double energy_cost(double watts, double hours, const EnergyPrice& price) {
  return watts / 1000 * hours * price.usd_per_kwh * price.pue;
}

double on_prem_hourly_cost(double price_usd, double watts, double maintenance_usd_per_year,
                           double years, const EnergyPrice& price) {
  return price_usd / (years * kHoursPerYear) + energy_cost(watts, 1, price) +
         maintenance_usd_per_year / kHoursPerYear;
}

double break_even_hours_per_year(double price_usd, double watts, double maintenance_usd_per_year,
                                 double years, double cloud_usd_per_hour, const EnergyPrice& price) {
  double saved_per_hour = cloud_usd_per_hour - energy_cost(watts, 1, price);
  if (saved_per_hour <= 0) return std::numeric_limits<double>::infinity();
  return (price_usd / years + maintenance_usd_per_year) / saved_per_hour;
}

double on_prem_tco(double price_usd, double watts, double maintenance_usd_per_year, double years,
                   double hours_per_year, const EnergyPrice& price) {
  return price_usd + energy_cost(watts, hours_per_year * years, price) +
         maintenance_usd_per_year * years;
}

double amortised_per_month(double price_usd, double years) { return price_usd / (years * 12); }

double cost_per_million(double usd_per_month, double units_per_month) {
  if (units_per_month <= 0) return std::numeric_limits<double>::infinity();
  return usd_per_month / units_per_month * 1e6;
}

double units_per_month(double units_per_s, double utilisation, double hours_per_day) {
  return units_per_s * utilisation * hours_per_day * 3600 * 30;
}

double weight_bytes(double parameters, double bits, double overhead) {
  return parameters * bits / 8 * (1 + overhead);
}

bool fits_in_memory(double needed_bytes, double device_bytes, double headroom) {
  return needed_bytes <= device_bytes * headroom;
}

}  // namespace sparq::runtime::planner
