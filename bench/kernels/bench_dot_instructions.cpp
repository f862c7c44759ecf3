// Throughput of the multiply-add instructions an attention or GEMM kernel could be built on,
// on this core: f32 FMA, int8 VNNI (vpdpbusd) and BF16 pairs (vdpbf16ps), all 512-bit.
// Which one pays is a per-CPU fact, not a datasheet one (on one Xeon with AVX-512 BF16,
// vdpbf16ps retires at a quarter of the FMA rate, so 32-MAC bf16 products lose to 16-MAC f32
// ones), so a kernel choice quotes this before it is made.
//
//   build/bench/sparq_kernel_bench --benchmark_filter=dot_instruction
//
// Counters: Ginstr (instructions retired per second) and GMAC (multiply-accumulates per
// second: 16 per FMA, 64 per vpdpbusd, 32 per vdpbf16ps). Each loop runs 12 independent
// accumulator chains, more than latency x ports on any core we have met.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "kernels/cpu_features.h"

namespace {

#if defined(__x86_64__)

// 12 independent zmm0..zmm11 += f(zmm20, zmm21), `rounds` times; the assembler takes the
// instruction whatever the compiler's target (avx512f only lets the asm name zmm16-31), and
// the caller checks the CPU has it.
#define SPARQ_TWELVE_CHAINS(I)                                                                  \
  I " %%zmm20, %%zmm21, %%zmm0\n\t" I " %%zmm20, %%zmm21, %%zmm1\n\t" I                        \
    " %%zmm20, %%zmm21, %%zmm2\n\t" I " %%zmm20, %%zmm21, %%zmm3\n\t" I                        \
    " %%zmm20, %%zmm21, %%zmm4\n\t" I " %%zmm20, %%zmm21, %%zmm5\n\t" I                        \
    " %%zmm20, %%zmm21, %%zmm6\n\t" I " %%zmm20, %%zmm21, %%zmm7\n\t" I                        \
    " %%zmm20, %%zmm21, %%zmm8\n\t" I " %%zmm20, %%zmm21, %%zmm9\n\t" I                        \
    " %%zmm20, %%zmm21, %%zmm10\n\t" I " %%zmm20, %%zmm21, %%zmm11\n\t"
#define SPARQ_CHAIN_LOOP(I)                                                                     \
  __asm__ volatile("vpxord %%zmm20, %%zmm20, %%zmm20\n\t"                                      \
                   "vpxord %%zmm21, %%zmm21, %%zmm21\n\t"                                      \
                   "1:\n\t" SPARQ_TWELVE_CHAINS(I) "dec %0\n\t"                                \
                   "jnz 1b"                                                                     \
                   : "+r"(rounds)                                                               \
                   :                                                                            \
                   : "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8",   \
                     "zmm9", "zmm10", "zmm11", "zmm20", "zmm21", "cc")

__attribute__((target("avx512f"))) void fma_chains(uint64_t rounds) { SPARQ_CHAIN_LOOP("vfmadd231ps"); }
__attribute__((target("avx512f"))) void vnni_chains(uint64_t rounds) { SPARQ_CHAIN_LOOP("vpdpbusd"); }
__attribute__((target("avx512f"))) void bf16_chains(uint64_t rounds) { SPARQ_CHAIN_LOOP("vdpbf16ps"); }

constexpr int kChains = 12;
constexpr uint64_t kRounds = 1 << 20;

void run(benchmark::State& state, bool supported, void (*chains)(uint64_t), double macs) {
  if (!supported) {
    state.SkipWithError("this CPU lacks the instruction");
    return;
  }
  for (auto _ : state) chains(kRounds);
  const double instructions = double(kChains) * double(kRounds);
  using benchmark::Counter;
  state.counters["Ginstr"] = Counter(instructions * 1e-9, Counter::kIsIterationInvariantRate);
  state.counters["GMAC"] = Counter(instructions * macs * 1e-9, Counter::kIsIterationInvariantRate);
}

const sparq::kernels::CpuFeatures& features() { return sparq::kernels::cpu_info().features; }

void BM_fma(benchmark::State& s) { run(s, features().avx512f, fma_chains, 16); }
void BM_vnni(benchmark::State& s) { run(s, features().avx512vnni, vnni_chains, 64); }
void BM_bf16(benchmark::State& s) { run(s, features().avx512bf16, bf16_chains, 32); }

BENCHMARK(BM_fma)->Name("dot_instruction/vfmadd231ps_zmm_f32");
BENCHMARK(BM_vnni)->Name("dot_instruction/vpdpbusd_zmm_u8s8");
BENCHMARK(BM_bf16)->Name("dot_instruction/vdpbf16ps_zmm_bf16");

#endif  // __x86_64__

}  // namespace
