// What the planner tests share: the fixture reports (tests/runtime/fixtures/planner/), the
// shipped catalog, workloads written to a test's directory, and options found by name.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "cli_runner.h"
#include "runtime/plan/catalog.h"
#include "runtime/plan/plan.h"

namespace sparq::runtime::planner {

inline const std::string kFixtures = std::string(SPARQ_SOURCE_DIR) + "/tests/runtime/fixtures/planner/";

inline std::string write(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

inline nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(std::ifstream(path)); }

inline const Option& find(const Plan& plan, const std::string& name) {
  for (const Option& o : plan.options)
    if (o.name == name) return o;
  throw std::runtime_error("no option " + name);
}

inline const Device& device(const Catalog& catalog, const std::string& name) {
  for (const Device& d : catalog.devices)
    if (d.name == name) return d;
  throw std::runtime_error("no device " + name);
}

inline Catalog shipped_catalog() {
  Result<std::string> shipped = default_catalog_path();
  EXPECT_TRUE(shipped.ok()) << shipped.error().message();
  Result<Catalog> c = load_catalog(*shipped);
  EXPECT_TRUE(c.ok()) << c.error().message();
  return *c;
}

}  // namespace sparq::runtime::planner
