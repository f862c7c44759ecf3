// One decoder model behind the server, with continuous batching: requests wait in a bounded
// queue; one scheduler thread per model moves them into free KV-cache slots between decode
// steps (TextGenerator::add), runs one forward over every active sequence per step (prompts
// fed --prefill-chunk tokens at a time beside the others' decode steps) and hands each
// request's text to its GenerationStream as it becomes final. A request whose client went
// away, or that ran past its deadline, leaves its slot at the next step.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "formats/error.h"
#include "formats/sparq_reader.h"
#include "runtime/jobs/text_generator.h"
#include "runtime/model/decoder_model.h"
#include "runtime/serve/metrics.h"
#include "runtime/serve/serve_options.h"

namespace sparq::serve {

// One request's output as the scheduler produces it, read by the request's HTTP thread.
class GenerationStream {
 public:
  // Blocks until there is new text (appended to `text`; true) or the request is over
  // (false; then result() holds how it ended).
  bool next(std::string& text);
  const Result<runtime::GenerationResult>& result() const { return *result_; }
  bool timed_out() const { return timed_out_; }  // ended by --timeout-ms, not by its own error
  // The client is gone: the scheduler frees the sequence's slot at its next step.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

  // The scheduler's side.
  void append(std::string_view text);
  void finish(Result<runtime::GenerationResult> result, bool timed_out = false);
  std::chrono::steady_clock::time_point deadline;
  std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string pending_;
  std::optional<Result<runtime::GenerationResult>> result_;
  std::atomic<bool> cancelled_{false};
  bool timed_out_ = false;
};

class GenerationService {
 public:
  static Result<std::unique_ptr<GenerationService>> load(std::string name,
                                                         std::shared_ptr<const formats::SparqReader> file,
                                                         const ServeOptions& options, Metrics& metrics);
  ~GenerationService();

  const std::string& name() const { return name_; }
  runtime::DecoderModel& model() { return *model_; }
  const runtime::Tokenizer& tokenizer() const { return *tokenizer_; }
  size_t context() const { return cache_.context(); }
  // The model's chat template, parsed once; an error when it has none.
  Result<runtime::ChatPrompt> chat_prompt(const nlohmann::json& messages) const;

  // Queues `request`; nullptr when the queue is full. The stream always ends, also when the
  // request fails (its own error) or the service shuts down.
  std::shared_ptr<GenerationStream> submit(runtime::GenerationRequest request,
                                           std::chrono::steady_clock::time_point deadline);

  // Finishes every queued and running request, then stops the scheduler.
  void shutdown();

 private:
  GenerationService(std::string name, std::unique_ptr<runtime::DecoderModel> model,
                    std::shared_ptr<const runtime::Tokenizer> tokenizer, runtime::KvCache cache,
                    const ServeOptions& options, Metrics& metrics);
  void work();

  struct Pending {
    runtime::GenerationRequest request;
    std::shared_ptr<GenerationStream> stream;
  };

  std::string name_;
  std::unique_ptr<runtime::DecoderModel> model_;
  std::shared_ptr<const runtime::Tokenizer> tokenizer_;
  runtime::KvCache cache_;
  runtime::TextGenerator generator_;
  std::optional<runtime::ChatPrompter> chat_;
  std::optional<Error> chat_error_;  // why there is no chat_ (the model has no template)
  size_t max_queue_;
  Metrics& metrics_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::map<size_t, std::shared_ptr<GenerationStream>> running_;  // by request id; scheduler thread only
  size_t next_id_ = 0;
  std::thread worker_;
};

}  // namespace sparq::serve
