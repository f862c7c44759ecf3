// `sparq plan` as a purchaser runs it (issue 22): exit 3 when the quality floor is missed or
// no option is feasible, with the plan still printed; no quality verdict without a floor;
// every --measured error exits 2; estimates marked in the table; and the HTML report names
// no path of the machine that made it; a decoder plan shows each option's memory left.
#include <gtest/gtest.h>
#include <fmt/core.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.h"

namespace {

using nlohmann::json;
using sparq::test::CliResult;
using sparq::test::read_file;
using sparq::test::run_sparq;
using sparq::test::temp_dir;

const std::string kFixtures = std::string(SPARQ_SOURCE_DIR) + "/tests/runtime/fixtures/planner/";
const std::string kBench = kFixtures + "bench.json";
const std::string kExample = std::string(SPARQ_SOURCE_DIR) + "/models/example-workload.yaml";

std::string write(const std::string& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir + "/" + name) << text;
  return dir + "/" + name;
}

TEST(PlanCli, ExitsThreeWhenTheFloorIsMissedOrNothingIsFeasible) {
  const std::string dir = temp_dir("plan_cli_exit");
  const std::string workload = write(dir, "w.json", R"({"documents_per_day": 1000})");
  json eval = json::parse(read_file(kFixtures + "eval.json"));
  CliResult ok = run_sparq({"plan", "--bench", kBench, "--eval", kFixtures + "eval.json", "--workload", workload});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;

  eval["floor"]["value"] = 0.95;
  eval["floor"]["passed"] = false;
  CliResult missed = run_sparq({"plan", "--bench", kBench, "--eval", write(dir, "missed.json", eval.dump()),
                                "--workload", workload});
  EXPECT_EQ(missed.exit_code, 3) << missed.err;
  EXPECT_NE(missed.out.find("MISSES the quality floor"), std::string::npos) << missed.out;  // the plan is still shown
  EXPECT_NE(missed.err.find("quality floor"), std::string::npos) << missed.err;

  CliResult none = run_sparq({"plan", "--bench", kBench, "--workload",
                              write(dir, "tight.json", R"({"documents_per_day": 1000, "costs": {"memory_headroom": 1e-6}})")});
  EXPECT_EQ(none.exit_code, 3) << none.err;
  EXPECT_NE(none.out.find("No option in the catalog meets"), std::string::npos) << none.out;

  eval["floor"] = nullptr;
  CliResult no_floor = run_sparq({"plan", "--bench", kBench, "--eval", write(dir, "no_floor.json", eval.dump()),
                                  "--workload", workload, "--json"});
  EXPECT_EQ(no_floor.exit_code, 0) << no_floor.err;
  EXPECT_TRUE(json::parse(no_floor.out)["verdict"]["quality_ok"].is_null());
}

// The library's checks of a workload and a bench report (tests/runtime/planner_plan_test.cpp)
// reach the user as exit 2 with the file and the field.
TEST(PlanCli, BadWorkloadOrBenchExitsTwoNamingFileAndField) {
  const std::string dir = temp_dir("plan_cli_bad_input");
  const std::string typo = write(dir, "typo.json", R"({"documnets_per_day": 5, "documents_per_day": 5})");
  CliResult r = run_sparq({"plan", "--bench", kBench, "--workload", typo});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(typo), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("documnets_per_day: unknown key"), std::string::npos) << r.err;
  json bench = json::parse(read_file(kBench));
  bench["model"].erase("parameters");
  const std::string no_params = write(dir, "bench.json", bench.dump());
  r = run_sparq({"plan", "--bench", no_params, "--workload", write(dir, "w.json", R"({"documents_per_day": 5})")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("model.parameters: missing"), std::string::npos) << r.err;
}

TEST(PlanCli, EveryMeasuredErrorExitsTwo) {
  const std::string dir = temp_dir("plan_cli_measured");
  const std::string workload = write(dir, "w.json", R"({"documents_per_day": 1000})");
  for (const std::string& m : std::vector<std::string>{"rtx-4090:speed=3", "rtx-4090", "rtx-4090:tokens_per_s=-1",
                                                        "no-such-gpu:tokens_per_s=3",
                              "rtx-4090:bench=" + dir + "/missing.json",
                              "rtx-4090:bench=" + kFixtures + "decoder-bench.json"}) {
    CliResult r = run_sparq({"plan", "--bench", kBench, "--workload", workload, "--measured", m});
    EXPECT_EQ(r.exit_code, 2) << m << ": " << r.err;
    EXPECT_NE(r.err.find("--measured"), std::string::npos) << r.err;
  }
}

TEST(PlanCli, TheTableMarksEstimatesAndTheReportNamesNoPathOfThisMachine) {
  const std::string dir = temp_dir("plan_cli_report");
  const std::string html = dir + "/plan.html";
  CliResult r = run_sparq({"plan", "--bench", kBench, "--eval", kFixtures + "eval.json", "--workload", kExample,
                           "--html", html});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The measured row's figures are plain; every estimated row's cost ends in "~".
  std::istringstream lines(r.out);
  int estimated = 0, measured = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" estimated ") != std::string::npos) {
      EXPECT_NE(line.find("~"), std::string::npos) << line;
      ++estimated;
    } else if (line.find(" measured ") != std::string::npos) {
      EXPECT_EQ(line.find("~"), std::string::npos) << line;
      ++measured;
    }
  }
  EXPECT_EQ(measured, 1);
  EXPECT_GT(estimated, 10);
  EXPECT_EQ(r.out.find("-cloud"), std::string::npos) << "the example is air-gapped (deployment: on-prem)";
  const std::string page = read_file(html);
  for (const std::string& path : {std::string(SPARQ_SOURCE_DIR), dir, kFixtures})
    EXPECT_EQ(page.find(path), std::string::npos) << path;
  EXPECT_NE(page.find("bench.json"), std::string::npos);  // named, without its directory
  EXPECT_NE(page.find("example-workload.yaml"), std::string::npos);
}

// A decoder's weights and KV cache can outgrow a device: the table shows what is left of
// each option's usable memory, the same figure `--json` gives as memory.headroom_bytes.
TEST(PlanCli, ADecoderPlanShowsTheMemoryLeftOfEachOption) {
  const std::string llm = std::string(SPARQ_SOURCE_DIR) + "/models/example-llm-workload.yaml";
  const std::string bench = kFixtures + "decoder-bench.json";
  CliResult table = run_sparq({"plan", "--bench", bench, "--workload", llm});
  CliResult js = run_sparq({"plan", "--bench", bench, "--workload", llm, "--json"});
  ASSERT_NE(table.exit_code, 2) << table.err;
  ASSERT_EQ(js.exit_code, table.exit_code) << js.err;
  ASSERT_NE(table.out.find("memory left"), std::string::npos) << table.out;
  const json plan = json::parse(js.out);
  int checked = 0;
  for (const json& o : plan.at("options")) {
    const json& m = o.at("memory");
    if (m.at("device_bytes").get<double>() <= 0) continue;
    const std::string figure = fmt::format("{:.1f} GB", m.at("headroom_bytes").get<double>() / 1e9);
    std::istringstream lines(table.out);
    bool found = false;
    for (std::string line; std::getline(lines, line);)
      if (line.rfind(o.at("name").get<std::string>() + " ", 0) == 0) found = line.find(figure) != std::string::npos;
    EXPECT_TRUE(found) << o.at("name") << " should show " << figure << "\n" << table.out;
    ++checked;
  }
  EXPECT_GT(checked, 5);
}

}  // namespace

namespace {

// A triage floor: `sparq eval --floor accuracy@0.9=V` (the accuracy of the 90 % most
// confident documents, the rest handed to a person) is the plan's quality input as is.
TEST(PlanCli, AccuracyAtCoverageFromEvalIsTheQualityFloor) {
  const std::string dir = temp_dir("plan_cli_coverage_floor");
  const std::string workload = write(dir, "w.json", R"({"documents_per_day": 1000})");
  const std::string model = sparq::test::default_model_path();
  for (const auto& [value, exit_code] : {std::pair{"0.2", 0}, std::pair{"0.999", 3}}) {
    CliResult eval = run_sparq({"eval", model, "--input", sparq::test::dev_subset_path(), "--json", "-q", "--floor",
                                std::string("accuracy@0.9=") + value});
    ASSERT_EQ(eval.exit_code, exit_code) << eval.err;
    const json report = json::parse(eval.out);
    const double measured = report["floor"]["measured"];
    EXPECT_DOUBLE_EQ(measured, report["calibration"]["accuracy_at_coverage"][2]["accuracy"].get<double>());
    CliResult plan = run_sparq({"plan", "--bench", kBench, "--eval", write(dir, "eval.json", eval.out), "--workload",
                                workload, "--json"});
    EXPECT_EQ(plan.exit_code, exit_code) << plan.err;
    const json verdict = json::parse(plan.out)["verdict"];
    EXPECT_EQ(verdict["quality_ok"], exit_code == 0);
    EXPECT_NE(verdict["summary"].get<std::string>().find("accuracy of the 90 % most confident documents, accuracy@0.9"),
              std::string::npos)
        << verdict.dump();
  }
}

}  // namespace
