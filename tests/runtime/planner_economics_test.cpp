// The cost formulas against the worked examples of shared/reference/hardware-economics.md
// (sections 3 and 5). Each expected value is the published figure, or - where the
// publication is arithmetically inconsistent with its own inputs - the value recomputed by
// hand from those inputs, with the discrepancy documented next to it.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/plan/economics.h"

namespace sparq::runtime::planner {
namespace {

const EnergyPrice kGuide{0.15, 1.3};  // section 5.1 defaults: $0.15/kWh, PUE 1.3
constexpr double kMaintenance = 500;  // $/year
constexpr double kYears = 3;

// 5.1: on-prem $/h = 1500/(3 x 8760) + 0.45 x 0.15 x 1.3 + 500/8760
//                  = 0.05708 + 0.08775 + 0.05708 = 0.20191 $/h;
// break-even = (1500/3 + 500) / (1.20 - 0.08775) = 1000 / 1.11225 = 899.1 h/year.
TEST(PlannerEconomics, OnPremHourlyAndBreakEvenForRtx4090) {
  EXPECT_NEAR(on_prem_hourly_cost(1500, 450, kMaintenance, kYears, kGuide), 0.20191, 5e-5);
  EXPECT_NEAR(break_even_hours_per_year(1500, 450, kMaintenance, kYears, 1.20, kGuide), 899.1, 0.1);
}

// 5.1's catalog, break-even hours/year recomputed by hand from the formula.
TEST(PlannerEconomics, BreakEvenForTheCalculatorCatalog) {
  struct Row { double price, watts, cloud, hours; };
  const Row rows[] = {
      {600, 200, 0.50, 700 / (0.50 - 0.039)},          // RTX 4070: 1518.4
      {1200, 320, 0.80, 900 / (0.80 - 0.0624)},        // RTX 4080 Super: 1220.2
      {15000, 400, 2.00, 5500 / (2.00 - 0.078)},       // A100 80 GB: 2861.6
      {32000, 700, 3.00, (32000.0 / 3 + 500) / (3.00 - 0.1365)},  // H100: 3899.6
      {10000, 300, 1.50, (10000.0 / 3 + 500) / (1.50 - 0.0585)},  // L40: 2659.2
  };
  for (const Row& r : rows)
    EXPECT_NEAR(break_even_hours_per_year(r.price, r.watts, kMaintenance, kYears, r.cloud, kGuide), r.hours, 0.05)
        << r.price;
  // H200: the source lists its power as "4.50" W (it is the hourly rate copied into the watt
  // column); at 4.5 W the electricity term vanishes: 13166.67 / (4.50 - 0.000878) = 2926.5.
  EXPECT_NEAR(break_even_hours_per_year(38000, 4.5, kMaintenance, kYears, 4.50, kGuide), 2926.5, 0.1);
  // At the H200's real 700 W: 13166.67 / (4.50 - 0.1365) = 3017.4 h/year.
  EXPECT_NEAR(break_even_hours_per_year(38000, 700, kMaintenance, kYears, 4.50, kGuide), 3017.4, 0.1);
}

// 5.1's scenarios: yearly cost of owning vs renting an RTX 4090 at 4, 20, 40 h/week and
// 24/7. Owning costs 1000 $/year fixed plus 0.08775 $/h; renting 1.20 $/h. Only 24/7
// (8760 h > 899 h) favours owning.
TEST(PlannerEconomics, UsageScenariosAroundTheBreakEven) {
  double be = break_even_hours_per_year(1500, 450, kMaintenance, kYears, 1.20, kGuide);
  for (double hours : {4.0 * 52, 20.0 * 52, 40.0 * 52, 8760.0}) {
    double own = on_prem_tco(1500, 450, kMaintenance, 1, hours, kGuide) - 1500 + 1500 / kYears;
    double rent = 1.20 * hours;
    EXPECT_NEAR(own, 1000 + 0.08775 * hours, 1e-6);
    EXPECT_EQ(own < rent, hours > be) << hours;
  }
}

// 5.2: 450 W x 8760 h x $0.15 = $591.3/year (no facility overhead in this rule).
TEST(PlannerEconomics, PowerRule) {
  EXPECT_NEAR(energy_cost(450, kHoursPerYear, {0.15, 1.0}), 591.3, 0.05);
}

// 5.3: 3-year 24/7 TCO = price + electricity + cooling (30 % of electricity = PUE 1.3).
TEST(PlannerEconomics, ThreeYearTcoTable) {
  struct Row { double price, watts, published_total; };
  const Row rows[] = {
      // RTX 4070: 600 + 788.4 + 236.5 = 1624.9; published $789 + $237 = $1,626 rounds each
      // term up - the exact total is $1,624.9, asserted here.
      {600, 200, 1624.9},
      {1500, 450, 3806},    // RTX 4090: 1500 + 1773.9 + 532.2 = 3806.1
      {15000, 400, 17050},  // A100: 15000 + 1576.8 + 473.0 = 17049.8
      {32000, 700, 35587},  // H100: 32000 + 2759.4 + 827.8 = 35587.2
  };
  for (const Row& r : rows)
    EXPECT_NEAR(on_prem_tco(r.price, r.watts, 0, 3, kHoursPerYear, {0.15, 1.3}), r.published_total, 0.6) << r.price;
  EXPECT_NEAR(energy_cost(450, 3 * kHoursPerYear, {0.15, 1.0}), 1774, 0.5);
  EXPECT_NEAR(energy_cost(450, 3 * kHoursPerYear, {0.15, 1.3}) - energy_cost(450, 3 * kHoursPerYear, {0.15, 1.0}),
              532, 0.5);
}

// 5.4: "(1500 + 590 x 3 + 500 x 3) / 3 = $1,363/yr = $0.155/h" - the arithmetic gives
// 4770 / 3 = $1,590/year = $0.1815/h; the published $1,363 does not follow from its inputs.
TEST(PlannerEconomics, Rtx4090AmortisationErratum) {
  double per_year = on_prem_tco(1500, 450, kMaintenance, 3, kHoursPerYear, {0.15, 1.0}) / 3;
  EXPECT_NEAR(per_year, 1591.3, 0.1);  // 500 + 591.3 + 500, with the exact power figure
  EXPECT_NEAR((1500 + 590 * 3 + 500 * 3) / 3.0, 1590, 1e-9);
  EXPECT_NEAR(per_year / kHoursPerYear, 0.1816, 1e-4);
  EXPECT_NEAR(on_prem_hourly_cost(1500, 450, kMaintenance, 3, {0.15, 1.0}), per_year / kHoursPerYear, 1e-12);
}

// 5.5: H100 power "700 W x 8,760 h x $0.12 = $7,350/yr" is $735.84 (off by 10x). Yearly
// cost with 3-year amortisation and $15,000 space/cooling/labour: 10666.67 + 735.84 + 15000
// = $26,402.5 = $3.01/h (the published $24,483 = $2.80/h cannot be derived from its inputs).
TEST(PlannerEconomics, H100DataCentreErratum) {
  EXPECT_NEAR(energy_cost(700, kHoursPerYear, {0.12, 1.0}), 735.84, 1e-6);
  double hourly = on_prem_hourly_cost(32000, 700, 15000, 3, {0.12, 1.0});
  EXPECT_NEAR(hourly * kHoursPerYear, 26402.5, 0.1);
  EXPECT_NEAR(hourly, 3.01, 0.005);
}

// 5.6: 10 req/s average on a GPU serving 200 req/s = 0.05 GPU; x 720 h = 36 GPU-hours;
// x $2.00 = $72/month. (The example also says "1M inferences/month", which is 0.386 req/s,
// not 10: at 1M/month the same arithmetic gives 1.39 GPU-hours = $2.78/month.)
TEST(PlannerEconomics, CloudInferenceExample) {
  EXPECT_NEAR(10.0 / 200 * kHoursPerMonth * 2.00, 72, 1e-9);
  double rps = 1e6 / kSecondsPerMonth;
  EXPECT_NEAR(rps, 0.386, 5e-4);
  EXPECT_NEAR(rps / 200 * kHoursPerMonth * 2.00, 2.78, 0.005);
}

// 5.7: GiB of weights (and +20 %) for 7B and 70B at 32/16/8/4/3 bits.
TEST(PlannerEconomics, MemoryByQuantization) {
  struct Row { double params, bits, gib, with_overhead; };
  const Row rows[] = {
      {7e9, 32, 26.1, 31.3}, {7e9, 16, 13.0, 15.6}, {7e9, 8, 6.5, 7.8}, {7e9, 4, 3.3, 3.9}, {7e9, 3, 2.4, 2.9},
      // 70B FP16 + 20 %: 130.39 x 1.2 = 156.46 GiB, published (truncated) as 156.4; asserted 156.5.
      {70e9, 32, 260.8, 312.9}, {70e9, 16, 130.4, 156.5}, {70e9, 8, 65.2, 78.2}, {70e9, 4, 32.6, 39.1},
      {70e9, 3, 24.4, 29.3},
  };
  for (const Row& r : rows) {
    EXPECT_NEAR(weight_bytes(r.params, r.bits) / kGiB, r.gib, 0.05) << r.params << " " << r.bits;
    EXPECT_NEAR(weight_bytes(r.params, r.bits, 0.2) / kGiB, r.with_overhead, 0.05) << r.params << " " << r.bits;
  }
  // Headroom rule: 7B INT8 + 20 % (7.8 GiB = 8.4 GB) fits a 16 GB card at 65 % (10.4 GB), not a 12 GB one (7.8).
  EXPECT_TRUE(fits_in_memory(weight_bytes(7e9, 8, 0.2), 16e9, 0.65));
  EXPECT_FALSE(fits_in_memory(weight_bytes(7e9, 8, 0.2), 12e9, 0.65));
}

// Section 3: $ per 1M tokens = (hardware / 36 + power $/month) / tokens per month.
TEST(PlannerEconomics, CostPerMillionTokensTable) {
  struct Row { double hardware, power_month, tokens_month, published; };
  const Row rows[] = {
      {5000, 40, 130e6, 1.38}, {6000, 55, 1.3e9, 0.17}, {13000, 70, 1.9e9, 0.23}, {18000, 80, 2.4e9, 0.24},
      {38000, 120, 3.2e9, 0.37}, {1500, 8, 52e6, 0.96},
      // MacBook Pro M4 Max: (3500/36 + 10) / 96 = 1.117 -> $1.12; the published $1.11 comes
      // from the rounded $97/month amortisation. Asserted: the exact value.
      {3500, 10, 96e6, 1.117},
  };
  for (const Row& r : rows) {
    double per_month = amortised_per_month(r.hardware, 3) + r.power_month;
    EXPECT_NEAR(cost_per_million(per_month, r.tokens_month), r.published, 0.005) << r.hardware;
  }
  EXPECT_NEAR(amortised_per_month(5000, 3), 139, 0.5);
  EXPECT_NEAR(amortised_per_month(38000, 3), 1056, 0.5);
  // "the CPU row = 143 tok/s at 70 % x 12 h x 30 d" -> 130 M tokens/month.
  EXPECT_NEAR(units_per_month(143.3, 0.7, 12) / 1e6, 130, 0.05);
}

}  // namespace
}  // namespace sparq::runtime::planner
