// Decoder speed the way llama.cpp's llama-bench and serving dashboards state it: prefill
// (prompt processing) tokens/s, decode (generation) tokens/s, time to first token and
// per-token latency percentiles, for `batch` sequences of `prompt_len` random tokens each
// generating `gen_len` tokens greedily (EOS ignored, so every run does the same work).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "formats/error.h"
#include "runtime/model/decoder_model.h"

namespace sparq::runtime {

struct DecoderBenchOptions {
  size_t prompt_len = 128, gen_len = 64, batch = 1;
  kernels::KvEncoding kv_cache = kernels::KvEncoding::f32;
  double seconds = 10, warmup_seconds = 2;  // measured runs last at least `seconds`
  size_t min_runs = 3;
  uint64_t seed = 42;  // of the random prompts
  // Called after each run with the phase ("warm-up", "measure") and its elapsed seconds.
  std::function<void(const char* phase, size_t runs, double elapsed)> progress;
};

struct DecoderBenchResult {
  size_t runs = 0;
  double seconds = 0, warmup_seconds = 0;
  double prefill_tokens_per_s = 0, decode_tokens_per_s = 0;
  std::vector<double> ttft_ms;           // per run: prefill and the first token's pick
  std::vector<double> token_latency_ms;  // per decode step (one token for each sequence)
  uint64_t kv_cache_bytes = 0;
  uint64_t decode_weight_bytes = 0;      // read per decode step (DecoderModel)
};

Result<DecoderBenchResult> bench_decoder(DecoderModel& model, const DecoderBenchOptions& options);

}  // namespace sparq::runtime
