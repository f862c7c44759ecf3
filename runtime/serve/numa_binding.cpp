#include "runtime/serve/numa_binding.h"

#include <fmt/core.h>
#include <numa.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "kernels/numa_nodes.h"

namespace sparq::serve {

Result<int> bind_to_numa_node(int node) {
  const std::vector<kernels::NumaNodeCpus> nodes = kernels::numa_nodes();
  const auto it = std::find_if(nodes.begin(), nodes.end(), [node](const auto& n) { return n.node == node; });
  if (it == nodes.end()) {
    return Error(fmt::format("--numa-node {}: this host has no NUMA node {} (its node{}: {})", node, node,
                             nodes.size() == 1 ? "" : "s", kernels::numa_node_names(nodes)));
  }
  const int cpus = static_cast<int>(it->cpus.size());
  // A kernel without NUMA support: the whole machine is node 0, there is nothing to bind.
  if (numa_available() < 0) return cpus;
  if (numa_run_on_node(node) != 0) {
    return Error(fmt::format("--numa-node {}: cannot run on the node's CPUs: {}", node, std::strerror(errno)));
  }
  bitmask* memory = numa_allocate_nodemask();
  numa_bitmask_setbit(memory, static_cast<unsigned>(node));
  numa_set_membind(memory);
  numa_bitmask_free(memory);
  return cpus;
}

}  // namespace sparq::serve
