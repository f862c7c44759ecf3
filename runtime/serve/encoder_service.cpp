#include "runtime/serve/encoder_service.h"

#include <fmt/core.h>

#include <algorithm>
#include <exception>

namespace sparq::serve {

using runtime::EncoderTask;

EncoderService::EncoderService(std::string name, std::unique_ptr<runtime::EncoderModel> model,
                               const ServeOptions& options, Metrics& metrics)
    : name_(std::move(name)), model_(std::move(model)), max_batch_tokens_(options.max_batch_tokens),
      max_queue_(options.max_queue), metrics_(metrics) {}

Result<std::unique_ptr<EncoderService>> EncoderService::load(std::string name,
                                                             std::shared_ptr<const formats::SparqReader> file,
                                                             const ServeOptions& options, Metrics& metrics) {
  auto model = runtime::EncoderModel::load(std::move(file));
  if (!model) return model.error();
  std::unique_ptr<EncoderService> s(new EncoderService(std::move(name), std::move(*model), options, metrics));
  // Only the token budget bounds a forward: a batch of short texts may hold many.
  runtime::BatchingOptions batching{.max_tokens_per_batch = options.max_batch_tokens,
                                    .max_batch = std::max<size_t>(options.max_batch_tokens / 2, 1)};
  auto embed = runtime::EncoderPipeline::create(*s->model_, EncoderTask::embed, batching);
  if (!embed) {
    return embed.error().within(fmt::format("{} (--max-batch-tokens {})", s->model_->path(), options.max_batch_tokens));
  }
  s->embed_ = std::move(*embed);
  if (s->model_->config().num_labels > 0) {
    auto classify = runtime::EncoderPipeline::create(*s->model_, EncoderTask::classify, batching);
    if (!classify) return classify.error();
    s->classify_ = std::move(*classify);
  }
  s->worker_ = std::thread([p = s.get()] { p->work(); });
  return s;
}

EncoderService::~EncoderService() { shutdown(); }

Result<runtime::Encoding> EncoderService::encode(std::string_view text) const {
  return tokenizer().encode(text, max_length());
}

Result<runtime::Encoding> EncoderService::encode_pair(std::string_view a, std::string_view b) const {
  return tokenizer().encode_pair(a, b, max_length());
}

std::optional<std::future<EncodeOutcome>> EncoderService::submit(EncoderTask task,
                                                                 std::vector<runtime::Encoding> inputs,
                                                                 Clock::time_point deadline) {
  std::future<EncodeOutcome> done;
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= max_queue_ || stopping_) return std::nullopt;
    Pending& p = queue_.emplace_back(Pending{task, std::move(inputs), deadline, {}});
    done = p.promise.get_future();
    metrics_.set_queue_depth(name_, queue_.size() + running_);
  }
  wake_.notify_one();
  return done;
}

void EncoderService::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (worker_.joinable()) worker_.join();
}

void EncoderService::work() {
  std::vector<Pending> batch;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      // The oldest request's task, and every request of that task behind it that fits the
      // token budget (the first always does, alone).
      const EncoderTask task = queue_.front().task;
      size_t tokens = 0;
      const Clock::time_point now = Clock::now();
      for (auto it = queue_.begin(); it != queue_.end();) {
        if (it->task != task) {
          ++it;
          continue;
        }
        if (it->deadline <= now) {
          it->promise.set_value({EncodeOutcome::State::timed_out, {}, "the request waited past its timeout"});
          it = queue_.erase(it);
          continue;
        }
        size_t n = 0;
        for (const runtime::Encoding& e : it->inputs) n += e.ids.size();
        if (!batch.empty() && tokens + n > max_batch_tokens_) break;
        tokens += n;
        batch.push_back(std::move(*it));
        it = queue_.erase(it);
      }
      running_ = batch.size();
      metrics_.set_queue_depth(name_, queue_.size() + running_);
    }
    if (!batch.empty()) run_batch(batch);
    batch.clear();
    std::lock_guard lock(mutex_);
    running_ = 0;
    metrics_.set_queue_depth(name_, queue_.size());
  }
}

void EncoderService::run_batch(std::vector<Pending>& batch) {
  std::vector<runtime::Encoding> inputs;
  for (Pending& p : batch) {
    for (runtime::Encoding& e : p.inputs) inputs.push_back(std::move(e));
  }
  runtime::EncoderPipeline& pipeline = batch.front().task == EncoderTask::classify ? *classify_ : *embed_;
  std::vector<runtime::DocumentOutput> outputs;
  Status status;
  try {
    status = pipeline.run_encoded(inputs, outputs);
  } catch (const std::exception& e) {  // out of memory, a bug: the requests fail, the server goes on
    status = Error(fmt::format("internal error: {}", e.what()));
  }
  const runtime::PipelineStats& stats = pipeline.stats();
  metrics_.batch_done(name_, inputs.size(), stats.padded_tokens);
  metrics_.add_tokens(name_, "input", stats.tokens);
  // Statistics are for batch jobs' summaries; unreset they would grow with every batch.
  pipeline.reset_stats();
  size_t next = 0;
  for (Pending& p : batch) {
    EncodeOutcome outcome;
    if (!status) {
      outcome = {EncodeOutcome::State::failed, {}, status.error().message()};
    } else {
      const size_t n = p.inputs.size();
      outcome.outputs.assign(std::make_move_iterator(outputs.begin() + ptrdiff_t(next)),
                             std::make_move_iterator(outputs.begin() + ptrdiff_t(next + n)));
      next += n;
    }
    p.promise.set_value(std::move(outcome));
  }
}

}  // namespace sparq::serve
