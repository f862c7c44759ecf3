// `sparq serve --numa-node N`: one replica per NUMA node, its threads on the node's CPUs and
// its memory (the model's weights, the KV caches) on the node's memory, so that no forward
// pass reads across the interconnect. Called before the process starts any other thread:
// threads inherit the binding of the thread that starts them.
#pragma once

#include "formats/error.h"

namespace sparq::serve {

// Binds the calling thread, and every thread it starts from now on, to `node`'s CPUs and
// memory (libnuma: numa_run_on_node, numa_set_membind). Returns the node's CPU count. A node
// the host does not have is an error naming --numa-node and the nodes there are.
Result<int> bind_to_numa_node(int node);

}  // namespace sparq::serve
