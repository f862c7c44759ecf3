// One encoder model behind the server, with dynamic batching: route handlers tokenise their
// texts on their own threads and queue them; one worker thread per model takes every
// request waiting (oldest first, one task at a time, up to --max-batch-tokens real tokens)
// into one EncoderPipeline run, which sorts them by length and packs the forward passes as
// `sparq classify` does. At low load a request runs at once, alone; under load the requests
// that arrived during a forward share the next one. The queue is bounded: a request past
// --max-queue is refused (the route answers 429), and one that waited past its deadline is
// answered without running.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "formats/error.h"
#include "formats/sparq_reader.h"
#include "runtime/jobs/encoder_pipeline.h"
#include "runtime/model/encoder_model.h"
#include "runtime/serve/metrics.h"
#include "runtime/serve/serve_options.h"
#include "runtime/text/tokenizer.h"

namespace sparq::serve {

using Clock = std::chrono::steady_clock;

struct EncodeOutcome {
  enum class State { ok, timed_out, failed };
  State state = State::ok;
  std::vector<runtime::DocumentOutput> outputs;  // one per input, in order (ok)
  std::string message;                           // why not (timed_out, failed)
};

class EncoderService {
 public:
  static Result<std::unique_ptr<EncoderService>> load(std::string name,
                                                      std::shared_ptr<const formats::SparqReader> file,
                                                      const ServeOptions& options, Metrics& metrics);
  ~EncoderService();

  const std::string& name() const { return name_; }
  runtime::EncoderModel& model() { return *model_; }
  bool can_classify() const { return classify_ != nullptr; }
  size_t max_length() const { return embed_->max_length(); }
  const runtime::Tokenizer& tokenizer() const { return embed_->tokenizer(); }

  // Token ids as the pipeline will see them (special tokens added, cut at max_length() with
  // the cut counted in truncated_tokens). Thread-safe.
  Result<runtime::Encoding> encode(std::string_view text) const;
  Result<runtime::Encoding> encode_pair(std::string_view a, std::string_view b) const;

  // Queues `inputs` for one forward with other waiting requests; nullopt when the queue is
  // full. The future is always fulfilled, also when the service shuts down.
  std::optional<std::future<EncodeOutcome>> submit(runtime::EncoderTask task, std::vector<runtime::Encoding> inputs,
                                                   Clock::time_point deadline);

  // Runs what is queued, then stops the worker. Called once, after the HTTP server stopped.
  void shutdown();

 private:
  struct Pending {
    runtime::EncoderTask task;
    std::vector<runtime::Encoding> inputs;
    Clock::time_point deadline;
    std::promise<EncodeOutcome> promise;
  };
  EncoderService(std::string name, std::unique_ptr<runtime::EncoderModel> model, const ServeOptions& options,
                 Metrics& metrics);
  void work();
  void run_batch(std::vector<Pending>& batch);

  std::string name_;
  std::unique_ptr<runtime::EncoderModel> model_;
  std::unique_ptr<runtime::EncoderPipeline> classify_, embed_;
  size_t max_batch_tokens_, max_queue_;
  Metrics& metrics_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  size_t running_ = 0;  // requests in the forward now
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace sparq::serve
