// Bitmap-sparse benchmarks: decode (GEMV, M = 1, and a 4-row batch) and prefill (M = 8..128
// prompt rows) on TinyLlama-1.1B shapes at 50 % and 70 % unstructured sparsity, bitmap q8
// and q4 (g32), against dense q8:g32 and q4:g32 (dense_matmul, this process's config)
// measured in the same process with the same threads. GEMV weights rotate over >= 256 MB so
// every call reads them from memory. GOPS counts dense-equivalent ops (2·M·N·K), so GOPS
// ratios are speedups; `x_dense_q8` and `x_dense_q4` are those speedups, `bytes_vs_q8` /
// `bytes_vs_q4` the weight-byte ratios.
//
// bitmap_matmul picks its path by M (the config's expand_min_m); around that threshold the
// impls bitmap_<values>_4x1 and bitmap_<values>_expanded force one path each, so the
// threshold can be measured again (kernels/bitmap_gemm.cpp states it).
//
// Names: bitmap/<impl>/<shape>[/s<sparsity>], e.g. bitmap/bitmap_q8/tinyllama_2048x5632/s70;
// bitmap_paired/<values>/<shape>/s<sparsity> for decode shapes, timed interleaved with dense.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/kernels/bench_common.h"
#include "formats/encoding_spec.h"
#include "formats/tensor_codec.h"
#include "kernels/bitmap_gemm.h"
#include "kernels/dense_gemm.h"
#include "kernels/dense_gemm_config.h"
#include "runtime/model/weight_views.h"

namespace sparq::bench {
namespace {

using formats::Encoding;

const Shape kShapes[] = {
    {"tinyllama_2048x2048", 1, 2048, 2048},
    {"tinyllama_5632x2048", 1, 5632, 2048},
    {"tinyllama_2048x5632", 1, 2048, 5632},
    {"tinyllama_2048x5632_m2", 2, 2048, 5632},
    {"tinyllama_2048x5632_m4", 4, 2048, 5632},
    // Prefill: a prompt's rows through the same weights.
    {"tinyllama_2048x5632_m6", 6, 2048, 5632},
    {"tinyllama_2048x5632_m8", 8, 2048, 5632},
    {"tinyllama_2048x5632_m16", 16, 2048, 5632},
    {"tinyllama_2048x5632_m32", 32, 2048, 5632},
    {"tinyllama_2048x5632_m128", 128, 2048, 5632},
    {"tinyllama_5632x2048_m128", 128, 5632, 2048},
};

std::vector<float> pruned_weights(const Shape& s, int sparsity) {
  std::mt19937 rng(uint32_t(s.n * 31 + s.k * 7 + sparsity));
  std::normal_distribution<float> value(0.0f, 1.0f);
  std::bernoulli_distribution keep(1.0 - sparsity / 100.0);
  std::vector<float> w(s.n * s.k, 0.0f);
  for (float& v : w)
    if (keep(rng)) v = value(rng);
  return w;
}

// One encoded weight, packed into enough copies to rotate through memory.
struct Rotated {
  std::vector<std::function<void(const float*, float*)>> calls;
  size_t payload_bytes = 0;
  size_t next = 0;
  void call(const float* x, float* y) {
    calls[next](x, y);
    next = (next + 1) % calls.size();
  }
};

// Which of bitmap_matmul's paths a bitmap row takes: the config's choice by M, or one forced.
enum class BitmapPath { chosen, by_4x1, expanded };

kernels::BitmapGemmConfig bitmap_config(BitmapPath path) {
  // The bitmap kernels of the dense config's level (the process's selected ISA).
  kernels::BitmapGemmConfig c = kernels::bitmap_gemm_config_for(kernels::dense_gemm_config().isa);
  if (path == BitmapPath::by_4x1) c.expanded.expand_min_m = SIZE_MAX;
  if (path == BitmapPath::expanded) c.expanded.expand_min_m = 0;
  return c;
}

Result<Rotated> rotated(const Shape& s, const std::string& encoding, int sparsity,
                        BitmapPath path) {
  std::vector<float> w = pruned_weights(s, sparsity);
  Result<formats::EncodeOptions> o = formats::parse_encode_options(encoding);
  if (!o) return o.error();
  Result<formats::EncodedTensor> enc = formats::encode_tensor("w", {s.n, s.k}, w, *o);
  if (!enc) return enc.error();
  Rotated r;
  r.payload_bytes = enc->payload.size();
  const size_t m = s.m;
  for (size_t i = 0, n = rotation_copies(s, r.payload_bytes); i < n; ++i) {
    if (o->encoding == Encoding::bitmap) {
      auto view = runtime::view_bitmap_weights(enc->desc, enc->payload);
      if (!view) return view.error();
      auto p = kernels::pack_bitmap_weights(*view, bitmap_config(path));
      if (!p) return p.error();
      auto packed = std::make_shared<kernels::PackedBitmapWeights>(std::move(*p));
      r.calls.push_back([packed, m](const float* x, float* y) {
        kernels::bitmap_matmul(*packed, x, m, nullptr, y);
      });
    } else {
      auto view = runtime::view_dense_weights(enc->desc, enc->payload);
      if (!view) return view.error();
      auto p = kernels::pack_dense_weights(*view);
      if (!p) return p.error();
      auto packed = std::make_shared<kernels::PackedDenseWeights>(std::move(*p));
      r.calls.push_back([packed, m](const float* x, float* y) {
        kernels::dense_matmul(*packed, x, m, nullptr, y);
      });
    }
  }
  return r;
}

struct Timing {
  double seconds = 0;
  size_t bytes = 0;
};
// Dense rows' results, by "<shape>/<impl>", for the bitmap rows' ratios.
std::map<std::string, Timing>& dense_timings() {
  static std::map<std::string, Timing> t;
  return t;
}

// Times `encoding` at `s` under the benchmark loop; returns seconds per call.
Timing run_rows(benchmark::State& state, const Shape& s, const std::string& encoding, int sparsity,
                BitmapPath path) {
  Result<Rotated> r = rotated(s, encoding, sparsity, path);
  if (!r) {
    state.SkipWithError(r.error().message().c_str());
    return {};
  }
  const std::vector<float> x = random_values(s.m * s.k, 42);
  std::vector<float> y(s.m * s.n);
  r->call(x.data(), y.data());
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) r->call(x.data(), y.data());
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  report(state, s, double(r->payload_bytes));
  state.counters["payload_MB"] = r->payload_bytes / 1e6;
  state.SetLabel(encoding + " (" + kernels::dense_gemm_config().name + ")");
  return {t / double(state.iterations()), r->payload_bytes};
}

void run_dense(benchmark::State& state, const Shape& s, std::string impl, std::string encoding) {
  const Timing t = run_rows(state, s, encoding, 0, BitmapPath::chosen);
  if (t.seconds > 0) dense_timings()[std::string(s.name) + "/" + impl] = t;
}

void run_bitmap(benchmark::State& state, const Shape& s, std::string encoding, int sparsity,
                BitmapPath path) {
  const Timing t = run_rows(state, s, encoding, sparsity, path);
  if (t.seconds <= 0) return;
  for (const char* dense : {"q8", "q4"}) {
    auto it = dense_timings().find(std::string(s.name) + "/dense_" + dense);
    if (it == dense_timings().end()) continue;  // filtered out: no ratio
    state.counters[std::string("x_dense_") + dense] = it->second.seconds / t.seconds;
    state.counters[std::string("bytes_vs_") + dense] = double(it->second.bytes) / double(t.bytes);
  }
}

// Decode, interleaved: each iteration times one call of dense q8, dense q4 and the bitmap
// weight in turn, so load that comes and goes on a shared machine falls on all three alike.
// x_dense_q8 / x_dense_q4 are the ratios of median call times (min_x_* of the fastest calls).
void run_paired(benchmark::State& state, const Shape& s, std::string values, int sparsity) {
  Result<Rotated> r[3] = {rotated(s, "q8:g32", 0, BitmapPath::chosen),
                          rotated(s, "q4:g32", 0, BitmapPath::chosen),
                          rotated(s, "bitmap:" + values + ":g32", sparsity, BitmapPath::chosen)};
  for (const Result<Rotated>& one : r)
    if (!one) {
      state.SkipWithError(one.error().message().c_str());
      return;
    }
  const std::vector<float> x = random_values(s.m * s.k, 42);
  std::vector<float> y(s.m * s.n);
  std::vector<double> seconds[3];
  for (auto _ : state) {
    for (int i = 0; i < 3; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      r[i]->call(x.data(), y.data());
      seconds[i].push_back(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  const auto median = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  const auto fastest = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
  const double bitmap = median(seconds[2]), bitmap_min = fastest(seconds[2]);
  state.counters["x_dense_q8"] = median(seconds[0]) / bitmap;
  state.counters["x_dense_q4"] = median(seconds[1]) / bitmap;
  state.counters["min_x_dense_q8"] = fastest(seconds[0]) / bitmap_min;
  state.counters["min_x_dense_q4"] = fastest(seconds[1]) / bitmap_min;
  state.counters["bitmap_us"] = bitmap * 1e6;
  state.counters["bitmap_GBps"] = double(r[2]->payload_bytes) / bitmap / 1e9;
  state.counters["bytes_vs_q8"] = double(r[0]->payload_bytes) / double(r[2]->payload_bytes);
  state.SetLabel("bitmap:" + values + ":g32 (" + kernels::dense_gemm_config().name + ")");
}

const bool registered = [] {
  for (const Shape& s : kShapes) {
    const std::string base = std::string("bitmap/");
    benchmark::RegisterBenchmark((base + "dense_q8/" + s.name).c_str(), run_dense, s,
                                 std::string("dense_q8"), std::string("q8:g32"))
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark((base + "dense_q4/" + s.name).c_str(), run_dense, s,
                                 std::string("dense_q4"), std::string("q4:g32"))
        ->Unit(benchmark::kMicrosecond);
    const auto add_bitmap = [&](const std::string& values, const char* suffix, int sp,
                                BitmapPath path) {
      const std::string name =
          base + "bitmap_" + values + suffix + "/" + s.name + "/s" + std::to_string(sp);
      benchmark::RegisterBenchmark(name.c_str(), run_bitmap, s, "bitmap:" + values + ":g32", sp,
                                   path)
          ->Unit(benchmark::kMicrosecond);
    };
    for (const char* values : {"q8", "q4"}) {
      for (int sp : {50, 70}) add_bitmap(values, "", sp, BitmapPath::chosen);
      if (s.m <= 4)
        for (int sp : {50, 70})
          benchmark::RegisterBenchmark(
              ("bitmap_paired/" + std::string(values) + "/" + s.name + "/s" + std::to_string(sp)).c_str(),
              run_paired, s, std::string(values), sp)
              ->Unit(benchmark::kMicrosecond);
      if (s.m >= 2 && s.m <= 8) {  // around the path threshold
        add_bitmap(values, "_4x1", 50, BitmapPath::by_4x1);
        add_bitmap(values, "_expanded", 50, BitmapPath::expanded);
      }
    }
  }
  return true;
}();

}  // namespace
}  // namespace sparq::bench
