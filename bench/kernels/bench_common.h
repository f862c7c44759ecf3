// What the kernel benchmarks share: the model shapes, activations, GEMV weight rotation
// and the counters the driver (bench/run_kernel_bench.py) reads.
//
// Naming: <family>/<impl>/<shape>[/s<sparsity>], e.g. dense/onednn_s8/bert_768x3072.
// Counters: GOPS (2·M·N·K per call, as a rate), GBps (weight bytes streamed per call, as
// a rate), M/N/K and threads. The driver groups rows by shape and prints ratios against
// the peer rows (impl onednn_s8, onednn_f32, openblas_f32) of the same shape.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kernels/threading.h"

namespace sparq::bench {

struct Shape {
  const char* name;
  size_t m, k, n;  // Y[m x n] = X[m x k] · W[n x k]ᵀ
};

// BERT-base encoder layers over 16 sequences of 128 tokens, and TinyLlama-1.1B decode.
inline constexpr Shape kModelShapes[] = {
    {"bert_768x768", 2048, 768, 768},       {"bert_768x3072", 2048, 768, 3072},
    {"bert_3072x768", 2048, 3072, 768},     {"tinyllama_2048x2048", 1, 2048, 2048},
    {"tinyllama_2048x5632", 1, 2048, 5632}, {"tinyllama_5632x2048", 1, 5632, 2048},
};

// GEMV weights are rotated over at least this many bytes so they come from memory, not
// from the (large) last-level cache.
inline constexpr size_t kRotateBytes = size_t(256) << 20;

inline size_t rotation_copies(const Shape& s, size_t weight_bytes) {
  return s.m <= 4 ? std::max<size_t>(1, (kRotateBytes + weight_bytes - 1) / weight_bytes) : 1;
}

inline std::vector<float> random_values(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = d(rng);
  return v;
}

// The counters every row reports; call after the timing loop.
inline void report(benchmark::State& state, const Shape& s, double weight_bytes) {
  using benchmark::Counter;
  state.counters["GOPS"] = Counter(2.0 * double(s.m * s.n * s.k) * 1e-9,
                                   Counter::kIsIterationInvariantRate);
  state.counters["GBps"] = Counter(weight_bytes * 1e-9, Counter::kIsIterationInvariantRate);
  state.counters["M"] = double(s.m);
  state.counters["N"] = double(s.n);
  state.counters["K"] = double(s.k);
  state.counters["threads"] = double(kernels::num_threads());
}

// Registers the dense-GEMM rows (bench_dense_gemm.cpp); main() calls it.
void register_dense_gemm_benchmarks();

}  // namespace sparq::bench
