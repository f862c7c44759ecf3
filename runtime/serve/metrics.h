// The server's Prometheus metrics (text exposition format 0.0.4 on GET /metrics): counters,
// gauges and cumulative histograms keyed by their label sets. Everything is updated under
// one lock: a handful of updates per request or forward pass, never per token of a text.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sparq::serve {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  Metrics();

  // One answered HTTP request: its route ("/embed"; "other" for no route), status, wall time.
  void request_done(std::string_view route, int status, double seconds);
  // One forward pass of `model`: the requests' texts or sequences in it, and its tokens.
  void batch_done(std::string_view model, size_t batch_size, size_t tokens);
  void time_to_first_token(std::string_view model, double seconds);
  // Tokens processed: kind "input" (encoders), "prompt" or "generated" (decoders).
  void add_tokens(std::string_view model, std::string_view kind, uint64_t n);
  // Requests queued for or running on `model`.
  void set_queue_depth(std::string_view model, size_t depth);
  // A constant 1 whose labels describe a served model (name, task, file, kernels' ISA...).
  void set_model_info(const Labels& labels);

  std::string render() const;

 private:
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket, not cumulative; the last is +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    std::string help, type;
    std::vector<double> bounds;  // histograms only
    std::map<std::string, double> values;        // counters and gauges, by rendered labels
    std::map<std::string, Histogram> histograms;  // by rendered labels
  };
  void add(std::string_view family, const Labels& labels, double v);
  void set(std::string_view family, const Labels& labels, double v);
  void observe(std::string_view family, const Labels& labels, double v);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace sparq::serve
