// The kernel benchmark binary's entry point: Google Benchmark's, with the ISA level and
// thread count recorded in the JSON context for the driver.
#include <benchmark/benchmark.h>

#include <string>

#include "bench/kernels/bench_common.h"
#include "kernels/isa.h"
#include "kernels/threading.h"

int main(int argc, char** argv) {
  using namespace sparq::kernels;
  sparq::Result<Isa> isa = selected_isa();
  benchmark::AddCustomContext("sparq_isa", isa.ok() ? std::string(isa_name(*isa)) : isa.error().message());
  benchmark::AddCustomContext("sparq_threads", std::to_string(num_threads()));
  sparq::bench::register_dense_gemm_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
