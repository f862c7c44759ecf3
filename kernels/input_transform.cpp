#include "kernels/input_transform.h"

#include "kernels/aligned_array.h"
#include "kernels/threading.h"

namespace sparq::kernels {

const float* transformed_input(InputTransform f, const float* x, size_t n) {
  if (!f) return x;
  thread_local AlignedArray<float> buffer;
  float* y = buffer.at_least(n);
  f(n, x, y);
  return y;
}

const float* transformed_matrix(InputTransform f, const float* x, size_t m, size_t k) {
  if (!f) return x;
  thread_local AlignedArray<float> buffer;
  float* y = buffer.at_least(m * k);
  constexpr size_t kMinFloatsPerThread = 1 << 14;
  parallel_run(m * k, kMinFloatsPerThread, [&](int t, int threads) {
    const Range rows = static_partition(m, 1, t, threads);
    if (rows.size()) f(rows.size() * k, x + rows.begin * k, y + rows.begin * k);
  });
  return y;
}

}  // namespace sparq::kernels
