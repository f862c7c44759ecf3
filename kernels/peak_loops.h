// Microkernels that keep one ISA's arithmetic units busy, for measuring peak throughput
// (sparq hwinfo, the planner). Each runs `iterations` rounds over many independent
// accumulator chains and reports what it executed.
#pragma once

#include <cstdint>

#include "kernels/isa.h"

namespace sparq::kernels {

// `ops` counts arithmetic operations, a multiply-add being 2 (so int8 ops = 2 x MACs).
// `checksum` is the sum of every accumulator lane at the end; returning it keeps the work
// live, and it is predictable, so a test can confirm the loop did the work it claims:
//  - f32 loops: each multiply-add lane computes acc * 1 + kPeakF32Addend, so
//    checksum == ops / 2 * kPeakF32Addend (exact while lanes stay below 2^24 addends);
//  - int8 loops: every product is 1 x 1, so checksum == ops / 2 (exact while no int32
//    lane wraps: iterations below ~2^25).
struct PeakRun {
  double ops = 0;
  double checksum = 0;
};
inline constexpr float kPeakF32Addend = 1.0f / 1024;

using PeakLoop = PeakRun (*)(uint64_t iterations);

// The shape every peak loop shares: `kChains` independent dependency chains, each advanced
// by `step` once per iteration, so the core can overlap them and reach full throughput.
template <int kChains, class Acc, class Step>
inline void run_peak_chains(uint64_t iterations, Acc (&acc)[kChains], Step step) {
  // The chains start equal; hide that, or the compiler merges them into one.
  __asm__("" : "+m"(acc));
  for (uint64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < kChains; ++j) acc[j] = step(acc[j]);
  }
}

PeakRun f32_fma_peak_loop__ref(uint64_t iterations);
PeakRun int8_dot_peak_loop__ref(uint64_t iterations);
// x86-64
PeakRun f32_fma_peak_loop__avx2(uint64_t iterations);
PeakRun int8_dot_peak_loop__avx2(uint64_t iterations);         // vpmaddubsw + vpmaddwd
PeakRun f32_fma_peak_loop__avx512(uint64_t iterations);
PeakRun int8_dot_peak_loop__avx512(uint64_t iterations);       // vpmaddubsw + vpmaddwd, zmm
PeakRun int8_dot_peak_loop__avx512vnni(uint64_t iterations);   // vpdpbusd
PeakRun int8_dot_peak_loop__amx(uint64_t iterations);          // tdpbssd
// aarch64
PeakRun f32_fma_peak_loop__neon(uint64_t iterations);
PeakRun int8_dot_peak_loop__neon(uint64_t iterations);         // smull + sadalp
PeakRun int8_dot_peak_loop__neon_dotprod(uint64_t iterations); // sdot
PeakRun int8_dot_peak_loop__neon_i8mm(uint64_t iterations);    // smmla

struct PeakLoops {
  PeakLoop f32_fma = nullptr;
  PeakLoop int8_dot = nullptr;
};

// The loops that measure `isa`'s peak (AMX has no f32 unit, so it measures f32 with
// AVX-512). Callers must only run them when isa_supported(isa, cpu_info().features).
PeakLoops peak_loops_for(Isa isa);

}  // namespace sparq::kernels
