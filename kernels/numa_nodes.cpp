#include "kernels/numa_nodes.h"

#include <fstream>

#include "kernels/cpu_features.h"

namespace sparq::kernels {
namespace {

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

std::vector<NumaNodeCpus> numa_nodes() {
  const std::string root = "/sys/devices/system/node/";
  std::vector<NumaNodeCpus> nodes;
  for (int n : parse_cpu_list(first_line(root + "online"))) {
    NumaNodeCpus node;
    node.node = n;
    node.cpu_list = first_line(root + "node" + std::to_string(n) + "/cpulist");
    node.cpus = parse_cpu_list(node.cpu_list);
    nodes.push_back(std::move(node));
  }
  if (nodes.empty()) {
    NumaNodeCpus node;
    node.cpu_list = first_line("/sys/devices/system/cpu/online");
    node.cpus = parse_cpu_list(node.cpu_list);
    nodes.push_back(std::move(node));
  }
  return nodes;
}

std::string numa_node_names(const std::vector<NumaNodeCpus>& nodes) {
  std::string out;
  for (const NumaNodeCpus& n : nodes) out += (out.empty() ? "" : ", ") + std::to_string(n.node);
  return out;
}

}  // namespace sparq::kernels
