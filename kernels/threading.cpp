#include "kernels/threading.h"

#include <unistd.h>

#include <algorithm>

#include <algorithm>
#include <atomic>

#include <omp.h>

namespace sparq::kernels {
namespace {
std::atomic<int> g_threads{0};
}  // namespace

void set_num_threads(int threads) { g_threads.store(std::max(threads, 0)); }

int num_threads() {
  int t = g_threads.load();
  return t > 0 ? t : std::min(omp_get_max_threads(), max_threads());
}

Range static_partition(size_t count, size_t unit, int thread, int threads) {
  const size_t units = (count + unit - 1) / unit;
  const size_t t = size_t(thread), nt = size_t(std::max(threads, 1));
  // The first units % nt threads take one extra unit.
  const size_t base = units / nt, extra = units % nt;
  const size_t first = t * base + std::min(t, extra);
  const size_t last = first + base + (t < extra ? 1 : 0);
  return {std::min(first * unit, count), std::min(last * unit, count)};
}

int max_threads() {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return int(std::max(1L, cpus) * 4);
}

}  // namespace sparq::kernels
