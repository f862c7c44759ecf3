#include "runtime/jobs/perplexity.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace sparq::runtime {
namespace {

// Logits are computed this many positions at a time, so memory stays at chunk x vocab
// floats whatever the window (a 2,048-token window of a 128k vocabulary would need 1 GiB).
constexpr size_t kChunk = 64;

double log_sum_exp(const float* x, size_t n) {
  const float m = *std::max_element(x, x + n);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(double(x[i]) - m);
  return m + std::log(sum);
}

}  // namespace

Result<PerplexityResult> perplexity(DecoderModel& model, std::span<const int32_t> ids, const PerplexityOptions& o) {
  const size_t V = model.config().vocab_size;
  PerplexityResult r;
  r.context = o.context ? o.context : model.config().max_positions;
  r.stride = o.stride ? o.stride : std::max<size_t>(1, r.context / 2);
  r.tokens = ids.size();
  if (r.context < 2 || r.context > model.config().max_positions) {
    return Error(fmt::format("perplexity: context {} must be in [2, {}] (the model's context)", r.context,
                             model.config().max_positions),
                 ErrorKind::invalid_argument);
  }
  if (r.stride > r.context) {
    return Error(fmt::format("perplexity: stride {} is longer than the context {}: tokens between windows would "
                             "never be scored",
                             r.stride, r.context),
                 ErrorKind::invalid_argument);
  }
  if (ids.size() < 2) return Error("perplexity: the text has fewer than 2 tokens", ErrorKind::invalid_input);
  auto cache = model.make_cache(1, r.context, o.kv_cache);
  if (!cache) return cache.error();
  std::vector<float> logits(kChunk * V);

  size_t begin = 0, scored_until = 0;  // tokens [0, scored_until) have been scored (or are the first)
  while (true) {
    const size_t end = std::min(begin + r.context, ids.size());
    cache->clear(0);
    // Row i of the window predicts token begin + i + 1; score those not scored before.
    for (size_t at = begin; at < end; at += kChunk) {
      const size_t n = std::min(kChunk, end - at);
      DecodeStep step{.slot = 0, .tokens = ids.subspan(at, n), .all_logits = true};
      if (Status s = model.forward({&step, 1}, *cache, std::span(logits).first(n * V)); !s) return s.error();
      for (size_t i = 0; i < n; ++i) {
        const size_t target = at + i + 1;
        if (target >= end || target < std::max<size_t>(scored_until, 1)) continue;
        const float* row = logits.data() + i * V;
        r.nll += log_sum_exp(row, V) - double(row[size_t(ids[target])]);
        ++r.scored_tokens;
      }
    }
    scored_until = end;
    ++r.windows;
    if (o.progress) o.progress(r.scored_tokens, ids.size() - 1);
    if (end == ids.size()) break;
    begin += r.stride;
  }
  r.perplexity = std::exp(r.nll / double(r.scored_tokens));
  return r;
}

}  // namespace sparq::runtime
