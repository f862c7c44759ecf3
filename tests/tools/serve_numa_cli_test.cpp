// NUMA detection and `sparq serve --numa-node`: the nodes /info and `sparq hwinfo` report
// equal the node directories in /sys read here by other means (the node*/ directories rather
// than the "online" list the library reads, and `lscpu`'s NUMA lines when it is installed);
// --numa-node 0 serves and says so in /info; a node the host lacks is exit 2 naming the
// option and the nodes there are.
#ifdef SPARQ_HAVE_SERVE
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <regex>

#include "cli_runner.h"
#include "serve_process.h"

namespace sparq::test {
namespace {

using nlohmann::json;
using sparq::test::default_model_path;


// Node -> its cpulist, from the node<N>/ directories of sysfs; {0: every online CPU} on a
// kernel without NUMA support (no such directories).
std::map<int, std::string> sysfs_nodes() {
  std::map<int, std::string> nodes;
  const std::filesystem::path root = "/sys/devices/system/node";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (!std::regex_match(name, m, std::regex("node([0-9]+)"))) continue;
    std::ifstream in(entry.path() / "cpulist");
    std::getline(in, nodes[std::stoi(m[1])]);
  }
  if (nodes.empty()) std::getline(std::ifstream("/sys/devices/system/cpu/online") >> std::ws, nodes[0]);
  return nodes;
}

// lscpu's "NUMA node<N> CPU(s): <list>" lines, when lscpu is installed.
std::map<int, std::string> lscpu_nodes() {
  std::map<int, std::string> nodes;
  std::string out;
  if (std::FILE* p = popen("LC_ALL=C lscpu 2>/dev/null", "r")) {
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    pclose(p);
  }
  std::smatch m;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, m, std::regex(R"(NUMA node([0-9]+) CPU\(s\):\s*(\S*)\s*)"))) nodes[std::stoi(m[1])] = m[2];
  }
  return nodes;
}

// "0-3,8" -> {0, 1, 2, 3, 8}: lscpu writes the same CPUs as "0,1" where sysfs writes "0-1".
std::set<int> expand(const std::string& list) {
  std::set<int> cpus;
  std::smatch m;
  for (std::string rest = list; std::regex_search(rest, m, std::regex("([0-9]+)(-([0-9]+))?")); rest = m.suffix()) {
    for (int c = std::stoi(m[1]); c <= (m[3].matched ? std::stoi(m[3]) : std::stoi(m[1])); ++c) cpus.insert(c);
  }
  return cpus;
}

std::map<int, std::set<int>> expand(const std::map<int, std::string>& nodes) {
  std::map<int, std::set<int>> out;
  for (const auto& [node, list] : nodes) out[node] = expand(list);
  return out;
}

std::map<int, std::string> reported(const json& nodes, const char* list_key) {
  std::map<int, std::string> out;
  for (const json& n : nodes) out[n.at("node").get<int>()] = n.at(list_key).get<std::string>();
  return out;
}

TEST(ServeNuma, DetectionEqualsSysfsAndLscpu) {
  const std::map<int, std::string> expected = sysfs_nodes();
  ASSERT_FALSE(expected.empty());
  CliResult hw = run_sparq({"hwinfo", "--json", "--no-measure"});
  ASSERT_EQ(hw.exit_code, 0) << hw.err;
  EXPECT_EQ(reported(json::parse(hw.out).at("numa"), "cpu_list"), expected);
  const std::map<int, std::string> lscpu = lscpu_nodes();
  if (!lscpu.empty()) {
    EXPECT_EQ(expand(lscpu), expand(expected));
  }
}

TEST(ServeNuma, BoundToANodeAndSaysSo) {
  const std::string dir = temp_dir("serve_numa");
  const int node = sysfs_nodes().begin()->first;
  ServeProcess server({default_model_path(), "-q", "--numa-node", std::to_string(node)}, dir + "/serve.log");
  ASSERT_NE(server.port(), 0) << server.log_text();
  auto res = server.client().Get("/info");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const json info = json::parse(res->body);
  EXPECT_EQ(info.at("numa_node"), node);
  EXPECT_EQ(reported(info.at("numa_nodes"), "cpus"), sysfs_nodes());
  // The process runs on the node's CPUs only, as the kernel says.
  std::ifstream status("/proc/" + std::to_string(server.pid()) + "/status");
  std::string line, allowed;
  while (std::getline(status, line)) {
    if (line.starts_with("Cpus_allowed_list:")) allowed = line.substr(line.find_first_not_of(" \t", 18));
  }
  EXPECT_EQ(allowed, sysfs_nodes().begin()->second);
  EXPECT_EQ(server.stop(), 0) << server.log_text();

  auto unbound = ServeProcess({default_model_path(), "-q"}, dir + "/serve2.log");
  ASSERT_NE(unbound.port(), 0) << unbound.log_text();
  auto plain = unbound.client().Get("/info");
  ASSERT_TRUE(plain);
  EXPECT_TRUE(json::parse(plain->body).at("numa_node").is_null());
}

TEST(ServeNuma, ANodeTheHostLacksIsExit2NamingTheNodes) {
  const std::map<int, std::string> nodes = sysfs_nodes();
  const int missing = nodes.rbegin()->first + 7;
  CliResult r = run_sparq({"serve", default_model_path(), "--port", "0", "--numa-node", std::to_string(missing)});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--numa-node " + std::to_string(missing)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no NUMA node " + std::to_string(missing)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::to_string(nodes.begin()->first)), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sparq::test
#endif
