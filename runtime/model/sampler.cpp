#include "runtime/model/sampler.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace sparq::runtime {
namespace {

Status in_range(const char* name, double v, double lo, double hi) {
  if (!(v >= lo && v <= hi)) return Error(fmt::format("{}: expected a number in [{}, {}], got {}", name, lo, hi, v),
                                          ErrorKind::invalid_argument);
  return {};
}

// log Σ exp(x), stably.
double log_sum_exp(std::span<const float> x) {
  const float m = *std::max_element(x.begin(), x.end());
  double sum = 0;
  for (float v : x) sum += std::exp(double(v) - m);
  return m + std::log(sum);
}

}  // namespace

Status validate(const SamplingOptions& o) {
  if (Status s = in_range("temperature", o.temperature, 0, 100); !s) return s;
  if (Status s = in_range("top_p", o.top_p, 0, 1); !s) return s;
  if (Status s = in_range("min_p", o.min_p, 0, 1); !s) return s;
  if (Status s = in_range("repetition_penalty", o.repetition_penalty, 0.01, 100); !s) return s;
  if (Status s = in_range("frequency_penalty", o.frequency_penalty, -2, 2); !s) return s;
  if (Status s = in_range("presence_penalty", o.presence_penalty, -2, 2); !s) return s;
  if (o.top_logprobs > 20) {
    return Error(fmt::format("top_logprobs: at most 20, got {}", o.top_logprobs), ErrorKind::invalid_argument);
  }
  return {};
}

Sampler::Sampler(const SamplingOptions& options) : o_(options), state_(options.seed) {}

// splitmix64: a tiny, well-mixed generator whose stream is the same on every platform and
// standard library (std::uniform_real_distribution's is not).
uint64_t Sampler::next_random() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double Sampler::uniform() { return double(next_random() >> 11) * 0x1.0p-53; }

void Sampler::observe_prompt(std::span<const int32_t> tokens) {
  for (int32_t t : tokens) ++seen_[t];
}

SampledToken Sampler::sample(std::span<const float> logits) {
  // Most likely first, ties by the lower id, so the kept set and the draw are deterministic.
  const auto order = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  SampledToken out;
  const double lse = log_sum_exp(logits);  // the model's own distribution, before any shaping
  if (o_.top_logprobs > 0) {
    candidates_.clear();
    for (size_t i = 0; i < logits.size(); ++i) candidates_.push_back({logits[i], int32_t(i)});
    const size_t k = std::min(o_.top_logprobs, candidates_.size());
    std::partial_sort(candidates_.begin(), candidates_.begin() + k, candidates_.end(), order);
    for (size_t i = 0; i < k; ++i) out.top.push_back({candidates_[i].second, float(candidates_[i].first - lse)});
  }

  shaped_.assign(logits.begin(), logits.end());
  if (o_.repetition_penalty != 1.0) {
    for (const auto& [t, count] : seen_) {
      float& l = shaped_[size_t(t)];
      l = l > 0 ? float(l / o_.repetition_penalty) : float(l * o_.repetition_penalty);
    }
  }
  for (const auto& [t, count] : generated_) {
    shaped_[size_t(t)] -= float(o_.frequency_penalty * count + o_.presence_penalty);
  }

  if (o_.temperature == 0.0) {
    out.token = int32_t(std::max_element(shaped_.begin(), shaped_.end()) - shaped_.begin());
  } else {
    candidates_.clear();
    for (size_t i = 0; i < shaped_.size(); ++i) candidates_.push_back({float(shaped_[i] / o_.temperature), int32_t(i)});
    size_t keep = candidates_.size();
    if (o_.top_k > 0 && o_.top_k < keep) {
      keep = o_.top_k;
      std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), order);
    } else if (o_.top_p < 1.0 || o_.min_p > 0.0) {
      std::sort(candidates_.begin(), candidates_.end(), order);
    } else {
      // No filter needs the order (a sort of the whole vocabulary per token would cost more
      // than the draw): only the most likely token goes first, as the weights' reference.
      std::iter_swap(candidates_.begin(), std::min_element(candidates_.begin(), candidates_.end(), order));
    }
    // Weights relative to the most likely token (whose weight is exp(0) = 1).
    weights_.resize(keep);
    double sum = 0;
    for (size_t i = 0; i < keep; ++i) sum += weights_[i] = std::exp(double(candidates_[i].first) - candidates_[0].first);
    if (o_.top_p < 1.0) {  // the smallest prefix whose mass reaches top_p, at least one token
      double mass = 0;
      size_t n = 0;
      while (n < keep && mass < o_.top_p * sum) mass += weights_[n++];
      keep = std::max<size_t>(n, 1);
    }
    if (o_.min_p > 0.0) {
      size_t n = 1;
      while (n < keep && weights_[n] >= o_.min_p) ++n;
      keep = n;
    }
    double total = 0;
    for (size_t i = 0; i < keep; ++i) total += weights_[i];
    double r = uniform() * total;
    size_t pick = 0;
    while (pick + 1 < keep && r >= weights_[pick]) r -= weights_[pick++];
    out.token = candidates_[pick].second;
  }
  out.logprob = float(logits[size_t(out.token)] - lse);
  ++seen_[out.token];
  ++generated_[out.token];
  return out;
}

}  // namespace sparq::runtime
