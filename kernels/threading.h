// The number of threads kernels use, a process-wide runtime setting, and the static
// partitioning every parallel kernel shares. Work is split into contiguous ranges that
// depend only on the work size and the thread count, and each output element is computed
// by exactly one thread in a fixed order, so integer kernels give bitwise-identical
// results for any thread count.
#pragma once

#include <cstddef>

namespace sparq::kernels {

// 0 restores the default (OpenMP's, i.e. OMP_NUM_THREADS or the online CPUs).
void set_num_threads(int threads);
int num_threads();
// The most threads a caller should ask for: 4x the online CPUs. More only slows down, and
// tens of thousands exhaust memory inside the OpenMP runtime, which then aborts.
int max_threads();

struct Range {
  size_t begin = 0, end = 0;
  size_t size() const { return end - begin; }
};

// Thread `thread` of `threads`'s share of [0, count), split in whole units of `unit`
// (e.g. a kernel's panel width) so that no unit straddles two threads.
Range static_partition(size_t count, size_t unit, int thread, int threads);

// Runs body(thread, threads) on num_threads() OpenMP threads, or inline when one thread
// is enough for `work_items` units of work (below min_items_per_thread each).
template <class Body>
void parallel_run(size_t work_items, size_t min_items_per_thread, Body&& body);

}  // namespace sparq::kernels

#include <omp.h>

template <class Body>
void sparq::kernels::parallel_run(size_t work_items, size_t min_items_per_thread,
                                  Body&& body) {
  int threads = num_threads();
  if (min_items_per_thread > 0 && work_items / min_items_per_thread < size_t(threads)) {
    threads = int(work_items / min_items_per_thread);
  }
  if (threads <= 1) {
    body(0, 1);
    return;
  }
#pragma omp parallel num_threads(threads)
  body(omp_get_thread_num(), omp_get_num_threads());
}
