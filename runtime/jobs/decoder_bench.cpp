#include "runtime/jobs/decoder_bench.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <random>

namespace sparq::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

int32_t argmax(const float* v, size_t n) { return int32_t(std::max_element(v, v + n) - v); }

struct RunTimes {
  double prefill_ms = 0, ttft_ms = 0, decode_ms = 0;
  std::vector<double> step_ms;
};

}  // namespace

Result<DecoderBenchResult> bench_decoder(DecoderModel& model, const DecoderBenchOptions& o) {
  const LlamaConfig& c = model.config();
  if (o.prompt_len == 0 || o.gen_len == 0 || o.batch == 0) {
    return Error("decoder bench: prompt length, generated length and batch must be at least 1",
                 ErrorKind::invalid_argument);
  }
  if (o.prompt_len + o.gen_len > c.max_positions) {
    return Error(fmt::format("decoder bench: {} prompt + {} generated tokens exceed the model's context of {}",
                             o.prompt_len, o.gen_len, c.max_positions),
                 ErrorKind::invalid_argument);
  }
  auto cache = model.make_cache(o.batch, o.prompt_len + o.gen_len, o.kv_cache);
  if (!cache) return cache.error();
  const size_t V = c.vocab_size;

  std::mt19937 rng(uint32_t(o.seed));
  std::uniform_int_distribution<int32_t> token(0, int32_t(V) - 1);
  std::vector<std::vector<int32_t>> prompts(o.batch, std::vector<int32_t>(o.prompt_len));
  for (auto& p : prompts) {
    for (int32_t& t : p) t = token(rng);
  }
  std::vector<float> logits(o.batch * V);
  std::vector<int32_t> next(o.batch);
  std::vector<DecodeStep> steps(o.batch);

  const auto one_run = [&]() -> Result<RunTimes> {
    RunTimes r;
    for (size_t b = 0; b < o.batch; ++b) {
      cache->clear(b);
      steps[b] = {.slot = b, .tokens = prompts[b]};
    }
    const auto start = Clock::now();
    if (Status s = model.forward(steps, *cache, logits); !s) return s.error();
    r.prefill_ms = ms_since(start);
    for (size_t b = 0; b < o.batch; ++b) next[b] = argmax(logits.data() + b * V, V);
    r.ttft_ms = ms_since(start);
    for (size_t g = 1; g < o.gen_len; ++g) {
      for (size_t b = 0; b < o.batch; ++b) steps[b] = {.slot = b, .tokens = std::span(&next[b], 1)};
      const auto t = Clock::now();
      if (Status s = model.forward(steps, *cache, logits); !s) return s.error();
      for (size_t b = 0; b < o.batch; ++b) next[b] = argmax(logits.data() + b * V, V);
      r.step_ms.push_back(ms_since(t));
    }
    for (double ms : r.step_ms) r.decode_ms += ms;
    return r;
  };

  DecoderBenchResult result;
  result.kv_cache_bytes = cache->bytes();
  result.decode_weight_bytes = model.decode_weight_bytes();
  const auto warm_start = Clock::now();
  size_t warm_runs = 0;
  do {
    if (Result<RunTimes> r = one_run(); !r) return r.error();
    ++warm_runs;
    if (o.progress) o.progress("warm-up", warm_runs, ms_since(warm_start) / 1000);
  } while (ms_since(warm_start) / 1000 < o.warmup_seconds);
  result.warmup_seconds = ms_since(warm_start) / 1000;

  double prefill_ms = 0, decode_ms = 0;
  const auto start = Clock::now();
  while (result.runs < o.min_runs || ms_since(start) / 1000 < o.seconds) {
    Result<RunTimes> r = one_run();
    if (!r) return r.error();
    ++result.runs;
    prefill_ms += r->prefill_ms;
    decode_ms += r->decode_ms;
    result.ttft_ms.push_back(r->ttft_ms);
    result.token_latency_ms.insert(result.token_latency_ms.end(), r->step_ms.begin(), r->step_ms.end());
    if (o.progress) o.progress("measure", result.runs, ms_since(start) / 1000);
  }
  result.seconds = ms_since(start) / 1000;
  result.prefill_tokens_per_s = double(result.runs * o.batch * o.prompt_len) / (prefill_ms / 1000);
  // gen_len tokens per sequence: the first comes from the prefill's logits, the rest from
  // gen_len - 1 decode steps, which are what decode speed measures.
  result.decode_tokens_per_s = o.gen_len > 1 ? double(result.runs * o.batch * (o.gen_len - 1)) / (decode_ms / 1000) : 0;
  return result;
}

}  // namespace sparq::runtime
