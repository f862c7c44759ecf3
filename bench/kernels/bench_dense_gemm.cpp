// Dense matmul at BERT-base and TinyLlama decode shapes: sparq's f32, f16, q8 and q4 kernels
// (the process's config, and q8 at each integer level the CPU has) against Debian's
// oneDNN s8/f32 matmul and OpenBLAS sgemm, same shapes, same thread count, same process.
//
// Fairness notes: sparq's q8/q4 rows include quantizing the f32 activations per row
// (part of the operation); oneDNN's s8 rows start from already-quantized s8 activations
// with f32 output and per-column scales. Weights are pre-packed/reordered for every
// implementation outside the timing loop; GEMV rows rotate weight copies over >= 256 MB.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/kernels/bench_common.h"
#include "formats/tensor_codec.h"
#include "kernels/dense_gemm.h"
#include "kernels/dense_gemm_config.h"
#include "kernels/pack_dense.h"
#include "runtime/model/weight_views.h"

#if SPARQ_BENCH_HAVE_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif
#if SPARQ_BENCH_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace sparq::bench {
namespace {

using kernels::DenseType;

struct SparqImpl {
  const char* name;
  DenseType type;
  uint32_t group;
  bool asymmetric;
};
const SparqImpl kSparqImpls[] = {
    {"sparq_f32", DenseType::f32, 0, false},
    {"sparq_f16", DenseType::f16, 0, false},
    {"sparq_q8", DenseType::q8, 0, false},
    {"sparq_q4g32", DenseType::q4, 32, false},
    {"sparq_q4g128a", DenseType::q4, 128, true},
};

void run_sparq(benchmark::State& state, Shape s, SparqImpl impl,
               const kernels::DenseGemmConfig* config) {
  formats::EncodeOptions o;
  o.encoding = impl.type == DenseType::f32   ? formats::Encoding::f32
               : impl.type == DenseType::f16 ? formats::Encoding::f16
               : impl.type == DenseType::q8  ? formats::Encoding::q8
                                             : formats::Encoding::q4;
  o.group_size = impl.group;
  o.asymmetric = impl.asymmetric;
  auto enc = formats::encode_tensor("w", {s.n, s.k}, random_values(s.n * s.k, 1), o);
  if (!enc) return state.SkipWithError(enc.error().message().c_str());
  auto view = runtime::view_dense_weights(enc->desc, enc->payload);
  if (!view) return state.SkipWithError(view.error().message().c_str());
  std::vector<kernels::PackedDenseWeights> copies;
  auto first = kernels::pack_dense_weights(*view, *config);
  if (!first) return state.SkipWithError(first.error().message().c_str());
  const size_t bytes = first->packed_bytes();
  copies.push_back(std::move(*first));
  for (size_t i = 1; i < rotation_copies(s, bytes); ++i) {
    copies.push_back(kernels::pack_dense_weights(*view, *config).value());
  }
  const std::vector<float> x = random_values(s.m * s.k, 2);
  // 64-byte aligned like the dst memory oneDNN allocates for itself,
  // so full output lines can be streamed.
  kernels::AlignedArray<float> y(s.m * s.n);
  kernels::dense_matmul(copies[0], x.data(), s.m, nullptr, y.data());
  size_t next = 0;
  for (auto _ : state) {
    kernels::dense_matmul(copies[next], x.data(), s.m, nullptr, y.data());
    next = next + 1 == copies.size() ? 0 : next + 1;
    benchmark::ClobberMemory();
  }
  state.SetLabel(config->name);
  report(state, s, double(bytes));
}

#if SPARQ_BENCH_HAVE_DNNL
// oneDNN matmul: src [M,K] (s8 or f32), weights [K,N] given as our N x K rows (tag ba) and
// reordered once to the primitive's preferred layout, f32 dst.
void run_onednn(benchmark::State& state, Shape s, bool int8) {
  using namespace dnnl;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  engine eng(engine::kind::cpu, 0);
  stream str(eng);
  const memory::dim M = memory::dim(s.m), K = memory::dim(s.k), N = memory::dim(s.n);
  const dt src_t = int8 ? dt::s8 : dt::f32, wei_t = int8 ? dt::s8 : dt::f32;
  memory::desc a_md({M, K}, src_t, tag::ab), b_any({K, N}, wei_t, tag::any),
      c_md({M, N}, dt::f32, tag::ab), b_user({K, N}, wei_t, tag::ba);
  primitive_attr attr;
  std::vector<float> scales(s.n, 1.0f / 127 / 127);
  if (int8) attr.set_output_scales(1 << 1, scales);
  matmul::primitive_desc pd(matmul::desc(a_md, b_any, c_md), attr, eng);
  matmul prim(pd);

  std::vector<int8_t> w8(s.n * s.k), x8(s.m * s.k);
  std::vector<float> wf = random_values(s.n * s.k, 1), xf = random_values(s.m * s.k, 2);
  for (size_t i = 0; i < w8.size(); ++i) w8[i] = int8_t(std::clamp(wf[i] * 40.0f, -127.0f, 127.0f));
  for (size_t i = 0; i < x8.size(); ++i) x8[i] = int8_t(std::clamp(xf[i] * 40.0f, -127.0f, 127.0f));
  memory user_w(b_user, eng, int8 ? static_cast<void*>(w8.data()) : wf.data());
  const size_t bytes = pd.weights_desc().get_size();
  std::vector<memory> copies;
  for (size_t i = 0; i < rotation_copies(s, bytes); ++i) {
    memory w(pd.weights_desc(), eng);
    reorder(user_w, w).execute(str, user_w, w);
    copies.push_back(w);
  }
  memory a(a_md, eng, int8 ? static_cast<void*>(x8.data()) : xf.data());
  memory c(c_md, eng);
  size_t next = 0;
  auto call = [&] {
    prim.execute(str, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, copies[next]}, {DNNL_ARG_DST, c}});
    str.wait();
    next = next + 1 == copies.size() ? 0 : next + 1;
  };
  call();
  for (auto _ : state) call();
  state.SetLabel(pd.impl_info_str());
  report(state, s, double(bytes));
}
#endif

#if SPARQ_BENCH_HAVE_OPENBLAS
void run_openblas(benchmark::State& state, Shape s) {
  openblas_set_num_threads(kernels::num_threads());
  const std::vector<float> w = random_values(s.n * s.k, 1), x = random_values(s.m * s.k, 2);
  const size_t bytes = w.size() * sizeof(float);
  std::vector<std::vector<float>> copies(rotation_copies(s, bytes), w);
  std::vector<float> y(s.m * s.n);
  size_t next = 0;
  auto call = [&] {
    const float* wc = copies[next].data();
    if (s.m == 1) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, int(s.n), int(s.k), 1.0f, wc, int(s.k), x.data(), 1,
                  0.0f, y.data(), 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(s.m), int(s.n), int(s.k), 1.0f,
                  x.data(), int(s.k), wc, int(s.k), 0.0f, y.data(), int(s.n));
    }
    next = next + 1 == copies.size() ? 0 : next + 1;
  };
  call();
  for (auto _ : state) call();
  state.SetLabel(openblas_get_config());
  report(state, s, double(bytes));
}
#endif

}  // namespace

// Registered from main(), not during static initialisation: the config is chosen once per
// process from cpu_info(), which must not be asked before its own statics exist.
void register_dense_gemm_benchmarks() {
  const kernels::DenseGemmConfig* selected = &kernels::dense_gemm_config();
  for (const Shape& s : kModelShapes) {
    auto add = [&](const std::string& impl, auto fn, auto... args) {
      benchmark::RegisterBenchmark(("dense/" + impl + "/" + s.name).c_str(), fn, s, args...)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime()
          ->MinTime(0.5);
    };
    for (const SparqImpl& impl : kSparqImpls) add(impl.name, run_sparq, impl, selected);
    // q8 at every other integer level this CPU has, to show what each ISA contributes.
    for (kernels::Isa isa : {kernels::Isa::avx2, kernels::Isa::avx512vnni, kernels::Isa::amx}) {
      auto c = kernels::dense_gemm_config_for(isa);
      if (c.ok() && *c != selected) {
        add(std::string("sparq_q8_") + (*c)->name, run_sparq, kSparqImpls[1], *c);
      }
    }
#if SPARQ_BENCH_HAVE_DNNL
    add("onednn_s8", run_onednn, true);
    add("onednn_f32", run_onednn, false);
#endif
#if SPARQ_BENCH_HAVE_OPENBLAS
    add("openblas_f32", run_openblas);
#endif
  }
}

}  // namespace sparq::bench
