// Sparse matmul benchmarks: BERT-base encoder shapes (M = 2048 rows) and TinyLlama decode
// GEMV (M = 1, weights rotated over >= 256 MB so they come from memory), at sparsity
// 0/50/70/80/90/95 %, for csr q8, bsr q8 (1x4, 4x4, 16x1) and csr f32.
// GOP/s counts EFFECTIVE dense-equivalent ops (2·M·N·K per call, whatever the sparsity),
// so GOP/s ratios are speedups. `x_dense_q8` is the speedup over our dense q8 kernel
// of this process's config, `x_dense_q8_vnni` over the AVX-512 VNNI dense kernel,
// both (dense_matmul) at the same shape, measured in this process with the same threads (the
// sparse/dense_q8 row of the shape, or timed on demand when a filter left it out).
//
// Names: sparse/<encoding>/<shape>/s<sparsity>, e.g. sparse/bsr_q8_1x4/bert_768x3072/s90.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "formats/tensor_codec.h"
#include "kernels/dense_gemm.h"
#include "kernels/dense_gemm_config.h"
#include "kernels/sparse_gemm.h"
#include "runtime/model/weight_views.h"

namespace sparq::kernels {
namespace {

using formats::Encoding;

struct Shape {
  const char* name;
  size_t m, k, n;  // Y[m x n] = X[m x k] · W[n x k]ᵀ
};
const Shape kShapes[] = {
    {"bert_768x768", 2048, 768, 768},     {"bert_768x3072", 2048, 768, 3072},
    {"bert_3072x768", 2048, 3072, 768},   {"tinyllama_2048x2048", 1, 2048, 2048},
    {"tinyllama_2048x5632", 1, 2048, 5632}, {"tinyllama_5632x2048", 1, 5632, 2048},
};
const int kSparsity[] = {0, 50, 70, 80, 90, 95};

struct Format {
  const char* name;
  Encoding value_encoding;
  uint16_t block_rows, block_cols;  // 0: csr
};
const Format kFormats[] = {
    {"csr_q8", Encoding::q8, 0, 0},        {"bsr_q8_1x4", Encoding::q8, 1, 4},
    {"bsr_q8_4x4", Encoding::q8, 4, 4},    {"bsr_q8_16x1", Encoding::q8, 16, 1},
    {"csr_f32", Encoding::f32, 0, 0},
};

constexpr size_t kRotateBytes = size_t(256) << 20;

// Dense weights with `sparsity` % of the elements (csr) or blocks (bsr) zero, at random.
std::vector<float> pruned_weights(const Format& f, const Shape& s, int sparsity) {
  std::mt19937 rng(uint32_t(s.n * 31 + s.k * 7 + sparsity));
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::bernoulli_distribution keep(1.0 - sparsity / 100.0);
  const size_t br = f.block_rows ? f.block_rows : 1, bc = f.block_rows ? f.block_cols : 1;
  std::vector<float> w(s.n * s.k, 0.0f);
  for (size_t r0 = 0; r0 < s.n; r0 += br)
    for (size_t c0 = 0; c0 < s.k; c0 += bc) {
      if (!keep(rng)) continue;
      for (size_t r = r0; r < std::min(s.n, r0 + br); ++r)
        for (size_t c = c0; c < std::min(s.k, c0 + bc); ++c) {
          float v = value(rng);
          w[r * s.k + c] = v == 0.0f ? 0.5f : v;
        }
    }
  return w;
}

std::vector<float> activations(const Shape& s) {
  std::mt19937 rng(42);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(s.m * s.k);
  for (auto& v : x) v = d(rng);
  return x;
}

// How many copies of a weight of `bytes` the GEMV benchmarks rotate through.
size_t copies_for(const Shape& s, size_t bytes) {
  return s.m == 1 ? std::max<size_t>(1, (kRotateBytes + bytes - 1) / bytes) : 1;
}

template <class F>
double seconds_per_call(F&& call) {
  using clock = std::chrono::steady_clock;
  call();  // warm-up (scratch buffers, page faults)
  size_t iters = 0;
  auto t0 = clock::now();
  double elapsed = 0;
  while (elapsed < 0.3 || iters < 3) {
    call();
    ++iters;
    elapsed = std::chrono::duration<double>(clock::now() - t0).count();
  }
  return elapsed / double(iters);
}

// Dense q8 weights at a shape, rotated like the sparse GEMV copies.
struct DenseQ8 {
  std::vector<PackedDenseWeights> copies;
  size_t next = 0;
  void call(const Shape& s, const float* x, float* y) {
    dense_matmul(copies[next], x, s.m, nullptr, y);
    next = (next + 1) % copies.size();
  }
};

// Packed with `config`: this process's dense config (maybe AMX) or an explicit level.
Result<DenseQ8> dense_q8(const Shape& s, const DenseGemmConfig& config) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  std::vector<float> w(s.n * s.k);
  for (auto& v : w) v = value(rng);
  formats::EncodeOptions o;
  o.encoding = Encoding::q8;
  auto enc = formats::encode_tensor("w", {s.n, s.k}, w, o);
  if (!enc) return enc.error();
  auto view = runtime::view_dense_weights(enc->desc, enc->payload);
  if (!view) return view.error();
  DenseQ8 d;
  for (size_t i = 0, n = copies_for(s, s.n * s.k); i < n; ++i) {
    auto p = pack_dense_weights(*view, config);
    if (!p) return p.error();
    d.copies.push_back(std::move(*p));
  }
  return d;
}

// Seconds per dense q8 call at a shape: from the dense benchmark row when it ran, else
// measured here.
std::map<std::string, double>& dense_seconds_cache() {
  static std::map<std::string, double> cache;
  return cache;
}

std::string cache_key(const Shape& s, const DenseGemmConfig& c) {
  return std::string(s.name) + "/" + c.name;
}

double dense_q8_seconds(const Shape& s, const DenseGemmConfig& config) {
  auto& cache = dense_seconds_cache();
  const std::string key = cache_key(s, config);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  auto d = dense_q8(s, config);
  if (!d) return 0;
  auto x = activations(s);
  std::vector<float> y(s.m * s.n);
  return cache[key] = seconds_per_call([&] { d->call(s, x.data(), y.data()); });
}

// The AVX-512 VNNI dense kernels: the same instruction set the sparse kernels use, so the
// ratio against them isolates what skipping zeros buys (the process's dense config may
// use AMX tiles, which the sparse kernels do not).
const DenseGemmConfig* vnni_dense_config() {
  auto c = dense_gemm_config_for(Isa::avx512vnni);
  return c ? *c : nullptr;
}

void run_dense(benchmark::State& state, const Shape& s) {
  auto d = dense_q8(s, dense_gemm_config());
  if (!d) return state.SkipWithError(d.error().message().c_str());
  auto x = activations(s);
  std::vector<float> y(s.m * s.n);
  d->call(s, x.data(), y.data());
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) d->call(s, x.data(), y.data());
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  dense_seconds_cache()[cache_key(s, dense_gemm_config())] = t / double(state.iterations());
  state.SetLabel(dense_gemm_config().name);
  state.counters["GOPS"] = benchmark::Counter(2.0 * s.m * s.n * s.k * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.counters["x_dense_q8"] = 1.0;
}

void run_sparse(benchmark::State& state, const Format& f, const Shape& s, int sparsity) {
  auto config = sparse_gemm_config();
  if (!config) return state.SkipWithError(config.error().message().c_str());
  formats::EncodeOptions o;
  o.encoding = f.block_rows ? Encoding::bsr : Encoding::csr;
  o.value_encoding = f.value_encoding;
  o.block_rows = f.block_rows;
  o.block_cols = f.block_cols;
  auto enc = formats::encode_tensor("w", {s.n, s.k}, pruned_weights(f, s, sparsity), o);
  if (!enc) return state.SkipWithError(enc.error().message().c_str());
  std::vector<PackedSparseWeight> packed;
  const size_t copies = copies_for(s, enc->payload.size());
  for (size_t i = 0; i < copies; ++i) {
    auto p = runtime::pack_sparse_weight(enc->desc, enc->payload, **config);
    if (!p) return state.SkipWithError(p.error().message().c_str());
    packed.push_back(std::move(*p));
  }
  auto x = activations(s);
  std::vector<float> y(s.m * s.n);
  size_t next = 0;
  sparse_gemm(packed[0], x.data(), s.m, nullptr, y.data());
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    sparse_gemm(packed[next], x.data(), s.m, nullptr, y.data());
    next = (next + 1) % packed.size();
  }
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double ops = 2.0 * s.m * s.n * s.k;
  state.counters["GOPS"] = benchmark::Counter(ops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["payload_MB"] = enc->payload.size() / 1e6;
  state.SetLabel(packed[0].describe());
  const double per_call = t / double(state.iterations());
  state.counters["x_dense_q8"] = dense_q8_seconds(s, dense_gemm_config()) / per_call;
  if (const DenseGemmConfig* vnni = vnni_dense_config()) {
    state.counters["x_dense_q8_vnni"] = dense_q8_seconds(s, *vnni) / per_call;
  }
}

const bool registered = [] {
  for (const Shape& s : kShapes) {
    benchmark::RegisterBenchmark((std::string("sparse/dense_q8/") + s.name + "/s0").c_str(),
                                 run_dense, s)
        ->Unit(benchmark::kMicrosecond);
    for (const Format& f : kFormats)
      for (int sp : kSparsity) {
        if (f.value_encoding == Encoding::f32 && sp != 90) continue;  // f32: one point
        std::string name = std::string("sparse/") + f.name + "/" + s.name + "/s" + std::to_string(sp);
        benchmark::RegisterBenchmark(name.c_str(), run_sparse, f, s, sp)
            ->Unit(benchmark::kMicrosecond);
      }
  }
  return true;
}();

}  // namespace
}  // namespace sparq::kernels
