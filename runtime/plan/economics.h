// The arithmetic of hardware economics, one formula per function, in the units the
// deployment guides use (US dollars, watts, hours, GiB). The planner composes these; the
// worked examples of shared/reference/hardware-economics.md section 5 test them directly.
#pragma once

#include <cstdint>

namespace sparq::runtime::planner {

inline constexpr double kHoursPerYear = 8760;
inline constexpr double kHoursPerMonth = 720;  // 30 days, as the guides count a month
inline constexpr double kSecondsPerMonth = kHoursPerMonth * 3600;

struct EnergyPrice {
  double usd_per_kwh = 0.15;
  double pue = 1.3;  // facility power / IT power; "cooling = 30 % of electricity"
};

// Electricity for `hours` at `watts`, including the facility overhead (PUE).
double energy_cost(double watts, double hours, const EnergyPrice& price);

// What owning one device costs per hour of its life, running around the clock:
// price / (years x 8760) + kW x $/kWh x PUE + maintenance / 8760.
double on_prem_hourly_cost(double price_usd, double watts, double maintenance_usd_per_year,
                           double years, const EnergyPrice& price);

// Hours of use per year above which owning is cheaper than renting: the fixed yearly cost
// of owning divided by what each rented hour costs beyond the electricity owning would use.
// Infinite when renting costs no more per hour than owning's electricity.
double break_even_hours_per_year(double price_usd, double watts, double maintenance_usd_per_year,
                                 double years, double cloud_usd_per_hour, const EnergyPrice& price);

// Owning for `years` with `hours_per_year` of use: purchase + energy + maintenance.
double on_prem_tco(double price_usd, double watts, double maintenance_usd_per_year, double years,
                   double hours_per_year, const EnergyPrice& price);

// Straight-line amortisation: price spread over `years` in months.
double amortised_per_month(double price_usd, double years);

// $ per million units (tokens or documents) from a monthly cost and monthly volume.
double cost_per_million(double usd_per_month, double units_per_month);

// Sustained units/s at `utilisation`, `hours_per_day`, 30-day months -> units per month.
double units_per_month(double units_per_s, double utilisation, double hours_per_day);

// Weights of `parameters` at `bits` per weight, in bytes; with `overhead` (0.2 = +20 % for
// KV cache and runtime) when given.
double weight_bytes(double parameters, double bits, double overhead = 0);

// The headroom rule: model + KV cache + OS within `headroom` (0.6-0.7) of device memory.
bool fits_in_memory(double needed_bytes, double device_bytes, double headroom);

inline constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

}  // namespace sparq::runtime::planner
