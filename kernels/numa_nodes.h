// The host's NUMA nodes as Linux lists them in sysfs: /sys/devices/system/node/online and
// each node's cpulist. Read from sysfs rather than through libnuma so that every build
// (the fully static one included) and every caller (hwinfo, the server's /info) sees the
// same list; binding to a node is the caller's business (runtime/serve/numa_binding.h).
#pragma once

#include <string>
#include <vector>

namespace sparq::kernels {

struct NumaNodeCpus {
  int node = 0;
  std::string cpu_list;   // as sysfs writes it: "0-15,32-47"
  std::vector<int> cpus;  // cpu_list expanded
};

// The online nodes, in order. A kernel without NUMA support (no node directory in sysfs)
// is one node 0 holding every online CPU. Read on each call: a few small sysfs files.
std::vector<NumaNodeCpus> numa_nodes();

// "0, 1" for the messages that list them.
std::string numa_node_names(const std::vector<NumaNodeCpus>& nodes);

}  // namespace sparq::kernels
