// What the plan charges (issue 22, "Costs that are wrong or missing"): owned units cover at
// most what the user owns; a GPU is bought with its host server; cloud rows bill the units
// they show; the workload's deployment scope and exclusions hold everywhere; and the marginal
// cost of the work stands beside the full cost. Expectations are recomputed from the
// workload, the fixture bench and the catalog entries.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "planner_fixtures.h"
#include "runtime/plan/inputs.h"
#include "runtime/plan/plan.h"

namespace sparq::runtime::planner {
namespace {

using nlohmann::json;

struct Planned {
  BenchReport bench;
  Catalog catalog = shipped_catalog();
  Workload workload;
  Result<Plan> plan = Error("not planned");
};

Planned plan_for(const json& workload, const std::function<void(Catalog&)>& edit = {}) {
  Planned p;
  Result<BenchReport> b = load_bench(kFixtures + "bench.json");
  EXPECT_TRUE(b.ok()) << b.error().message();
  p.bench = *b;
  Result<Workload> w = load_workload(write(sparq::test::temp_dir("planner_costs"), "w.json", workload.dump()));
  EXPECT_TRUE(w.ok()) << w.error().message();
  p.workload = *w;
  if (edit) edit(p.catalog);
  p.plan = make_plan(p.bench, std::nullopt, p.workload, p.catalog, {});
  return p;
}

// Energy for `hours` at `watts` at the default $0.15/kWh and PUE 1.3.
double energy(double watts, double hours) { return watts / 1000 * hours * 0.15 * 1.3; }

bool has_warning(const Option& o, const std::string& text) {
  return std::any_of(o.warnings.begin(), o.warnings.end(),
                     [&](const std::string& w) { return w.find(text) != std::string::npos; });
}

// Issue 22: the plan needed 2 (or 75) units of this-machine, all at no purchase cost.
TEST(PlannerCosts, OwnedUnitsCoverOnlyTheUnitsOwned) {
  const json volume = {{"documents_per_day", 3e6}, {"hours_per_day", 24}, {"redundancy", 1}};
  json priced = volume;
  priced["this_machine"] = {{"owned_units", 2}, {"price_usd", 3000}, {"power_w", 60}};
  Planned p = plan_for(priced);
  ASSERT_TRUE(p.plan.ok()) << p.plan.error().message();
  const Option& me = find(*p.plan, kThisMachine);
  // 3e6 x 380 tokens a day at 9120 tokens/s x 70 %, + 1 spare.
  const int units = static_cast<int>(std::ceil(3e6 * 380 / 86400 / (9120 * 0.7))) + 1;
  ASSERT_EQ(me.units, units);
  ASSERT_GT(units, 2);
  EXPECT_EQ(me.owned_units, 2);
  const double running = 500.0 / 12 + energy(60, 24 * 30);
  EXPECT_NEAR(me.usd_per_month, units * running + (units - 2) * 3000.0 / 36, 1e-6);
  EXPECT_NEAR(me.tco_3y, units * (energy(60, 24 * 365 * 3) + 500 * 3) + (units - 2) * 3000.0, 1e-6);
  EXPECT_TRUE(me.feasible);

  // No price for the units beyond those owned: not a plan anyone can buy.
  json unpriced = volume;
  unpriced["this_machine"] = {{"owned_units", 1}, {"power_w", 60}};
  Planned q = plan_for(unpriced);
  ASSERT_TRUE(q.plan.ok());
  const Option& free = find(*q.plan, kThisMachine);
  EXPECT_FALSE(free.feasible);
  EXPECT_TRUE(has_warning(free, "with no price: set this_machine.price_usd")) << free.warnings.front();
  EXPECT_NE(q.plan->verdict.cheapest, kThisMachine);
}

TEST(PlannerCosts, AGpuIsBoughtWithItsHostServerShownApart) {
  Planned p = plan_for({{"documents_per_day", 1000}});
  ASSERT_TRUE(p.plan.ok());
  for (const char* name : {"rtx-4090", "h100", "l4"}) {
    const Device& d = device(p.catalog, name);
    const Option& o = find(*p.plan, name);
    ASSERT_GT(d.host_price_usd, 0) << name;
    EXPECT_EQ(o.card_price_usd, d.price_usd) << name;
    EXPECT_EQ(o.host_price_usd, d.host_price_usd) << name;
    const double unit_month = (d.price_usd + d.host_price_usd) / 36 + 500.0 / 12 + energy(d.power_w + d.host_power_w, 24 * 30);
    EXPECT_NEAR(o.usd_per_month, o.units * unit_month, 1e-6) << name;
    EXPECT_NEAR(o.power_w, o.units * (d.power_w + d.host_power_w), 1e-9) << name;
    EXPECT_TRUE(has_warning(o, "host server")) << name;
  }
  // CPUs and NPUs are whole machines.
  EXPECT_EQ(find(*p.plan, "xeon-32c-server").host_price_usd, 0);
  EXPECT_EQ(find(*p.plan, "apple-m4-max").host_price_usd, 0);
}

// Issue 22: cloud rows billed the average load with no spare while showing peak + spare.
TEST(PlannerCosts, CloudBillsTheAverageLoadPlusTheSpareAndReservedBillsEveryUnit) {
  const json w = {{"documents_per_day", 2e6},         {"hours_per_day", 10},
                  {"peak_to_average", 4},             {"redundancy", 1},
                  {"costs", {{"egress_gb_per_month", 10}}}};
  Planned p = plan_for(w, [](Catalog& c) {
    for (Device& d : c.devices)
      if (d.name == "l40") d.cloud_reserved_usd_per_hour = 0.9;
  });
  ASSERT_TRUE(p.plan.ok());
  const Option& on_demand = find(*p.plan, "l40-cloud");
  const Option& reserved = find(*p.plan, "l40-cloud-reserved");
  const Option& owned = find(*p.plan, "l40");
  const double usable = on_demand.tokens_per_s * 0.7;
  const double average = 2e6 * 380 / (10 * 3600.0), peak = average * 4;
  EXPECT_EQ(on_demand.units, static_cast<int>(std::ceil(peak / usable)) + 1);
  EXPECT_EQ(on_demand.units, owned.units);
  EXPECT_NEAR(on_demand.billed_units, std::max(1.0, average / usable) + 1, 1e-9);
  EXPECT_NEAR(on_demand.usd_per_month, 1.5 * on_demand.billed_units * 10 * 30 + 10 * 0.09, 1e-6);
  // Reserved: every unit, peak and spare, the whole month.
  EXPECT_EQ(reserved.billed_units, reserved.units);
  EXPECT_NEAR(reserved.usd_per_month, 0.9 * reserved.units * 720 + 10 * 0.09, 1e-6);
  EXPECT_FALSE(p.plan->options.empty());
  EXPECT_THROW(find(*p.plan, "h100-cloud-reserved"), std::runtime_error);  // no reserved rate in the catalog
}

// Issue 22: the air-gapped example was offered 9 "feasible" cloud rows.
TEST(PlannerCosts, DeploymentScopeAndExclusionsHoldInTheTableAndTheVerdict) {
  Planned on_prem = plan_for({{"documents_per_day", 1000}, {"deployment", "on-prem"}, {"exclude", {"h100", "l4"}}});
  ASSERT_TRUE(on_prem.plan.ok()) << on_prem.plan.error().message();
  for (const Option& o : on_prem.plan->options) {
    EXPECT_NE(o.deployment, Deployment::cloud) << o.name;
    EXPECT_NE(o.name, "h100");
    EXPECT_NE(o.name, "l4");
  }
  EXPECT_EQ(on_prem.plan->options.size(), on_prem.catalog.devices.size() + 1 - 2);
  Planned cloud = plan_for({{"documents_per_day", 1000}, {"deployment", "cloud"}});
  ASSERT_TRUE(cloud.plan.ok());
  ASSERT_FALSE(cloud.plan->options.empty());
  for (const Option& o : cloud.plan->options) EXPECT_EQ(o.deployment, Deployment::cloud) << o.name;
  EXPECT_TRUE(cloud.plan->verdict.cheapest.ends_with("-cloud")) << cloud.plan->verdict.cheapest;
  json j = to_json(*cloud.plan, cloud.bench, cloud.workload);
  EXPECT_EQ(j["workload"]["deployment"], "cloud");

  Planned typo = plan_for({{"documents_per_day", 1000}, {"exclude", {"h10"}}});
  ASSERT_FALSE(typo.plan.ok());
  EXPECT_NE(typo.plan.error().message().find("exclude: \"h10\" is no device"), std::string::npos);
  EXPECT_NE(typo.plan.error().message().find("did you mean h100?"), std::string::npos) << typo.plan.error().message();
  std::string dir = sparq::test::temp_dir("planner_scope");
  Result<Workload> bad = load_workload(write(dir, "w.json", R"({"documents_per_day": 5, "deployment": "onprem"})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("deployment: must be on-prem, cloud or any"), std::string::npos);
}

// Issue 22: 20 documents/day on an owned machine showed "$71,004 per 1M documents".
TEST(PlannerCosts, MarginalCostOfTheWorkStandsBesideTheFullCost) {
  Planned p = plan_for({{"documents_per_day", 20}, {"this_machine", {{"power_w", 60}}}});
  ASSERT_TRUE(p.plan.ok());
  const Option& me = find(*p.plan, kThisMachine);
  EXPECT_GT(me.usd_per_million_requests, 10000);  // maintenance spread over 600 documents a month
  // A million 380-token documents at 9120 tokens/s keep one 60 W machine busy this long.
  const double seconds = 1e6 * 380 / 9120;
  EXPECT_NEAR(me.marginal_usd_per_million_requests, energy(60, seconds / 3600), 1e-9);
  EXPECT_NEAR(me.marginal_usd_per_million_tokens, me.marginal_usd_per_million_requests / 380, 1e-12);
  // Rented: the instance-hours of the work at the planned utilisation.
  const Option& rented = find(*p.plan, "rtx-4090-cloud");
  EXPECT_NEAR(rented.marginal_usd_per_million_requests, 1.2 * 1e6 * 380 / rented.tokens_per_s / 3600 / 0.7, 1e-9);
  json j = to_json(*p.plan, p.bench, p.workload);
  for (const json& o : j["options"]) {
    if (o["name"] == kThisMachine) {
      EXPECT_NEAR(o["marginal_usd_per_million_documents"].get<double>(), me.marginal_usd_per_million_requests, 1e-12);
    }
  }
  EXPECT_TRUE(std::any_of(p.plan->verdict.reasons.begin(), p.plan->verdict.reasons.end(),
                          [](const std::string& r) { return r.find("Marginal cost") != std::string::npos; }));
}

}  // namespace
}  // namespace sparq::runtime::planner
