#include "runtime/serve/generation_service.h"

#include <fmt/core.h>

#include <exception>

#include "runtime/jobs/model_tokenizer.h"

namespace sparq::serve {

using Clock = std::chrono::steady_clock;

bool GenerationStream::next(std::string& text) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !pending_.empty() || result_.has_value(); });
  if (!pending_.empty()) {
    text += pending_;
    pending_.clear();
    return true;
  }
  return false;
}

void GenerationStream::append(std::string_view text) {
  {
    std::lock_guard lock(mutex_);
    pending_ += text;
  }
  changed_.notify_all();
}

void GenerationStream::finish(Result<runtime::GenerationResult> result, bool timed_out) {
  {
    std::lock_guard lock(mutex_);
    timed_out_ = timed_out;
    result_.emplace(std::move(result));
  }
  changed_.notify_all();
}

GenerationService::GenerationService(std::string name, std::unique_ptr<runtime::DecoderModel> model,
                                     std::shared_ptr<const runtime::Tokenizer> tokenizer, runtime::KvCache cache,
                                     const ServeOptions& options, Metrics& metrics)
    : name_(std::move(name)), model_(std::move(model)), tokenizer_(std::move(tokenizer)), cache_(std::move(cache)),
      generator_(*model_, tokenizer_, cache_, options.prefill_chunk), max_queue_(options.max_queue),
      metrics_(metrics) {}

Result<std::unique_ptr<GenerationService>> GenerationService::load(std::string name,
                                                                   std::shared_ptr<const formats::SparqReader> file,
                                                                   const ServeOptions& options, Metrics& metrics) {
  auto model = runtime::DecoderModel::load(std::move(file));
  if (!model) return model.error();
  auto tokenizer = runtime::tokenizer_from_metadata((*model)->metadata(), (*model)->path(),
                                                    (*model)->config().vocab_size);
  if (!tokenizer) return tokenizer.error();
  auto cache = (*model)->make_cache(options.decode_slots, options.context);
  if (!cache) return cache.error();
  std::unique_ptr<GenerationService> s(new GenerationService(std::move(name), std::move(*model), std::move(*tokenizer),
                                                             std::move(*cache), options, metrics));
  auto chat = runtime::ChatPrompter::create(*s->model_, s->tokenizer_);
  if (chat) {
    s->chat_.emplace(std::move(*chat));
  } else {
    s->chat_error_ = chat.error();
  }
  s->worker_ = std::thread([p = s.get()] { p->work(); });
  return s;
}

GenerationService::~GenerationService() { shutdown(); }

Result<runtime::ChatPrompt> GenerationService::chat_prompt(const nlohmann::json& messages) const {
  if (!chat_) return *chat_error_;
  return chat_->render(messages);
}

std::shared_ptr<GenerationStream> GenerationService::submit(runtime::GenerationRequest request,
                                                            Clock::time_point deadline) {
  auto stream = std::make_shared<GenerationStream>();
  stream->deadline = deadline;
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= max_queue_ || stopping_) return nullptr;
    queue_.push_back({std::move(request), stream});
    metrics_.set_queue_depth(name_, queue_.size() + generator_.active());
  }
  wake_.notify_one();
  return stream;
}

void GenerationService::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (worker_.joinable()) worker_.join();
}

void GenerationService::work() {
  const auto on_text = [&](size_t id, std::string_view text) { running_.at(id)->append(text); };
  const auto on_done = [&](size_t id, Result<runtime::GenerationResult> r) {
    auto it = running_.find(id);
    if (r) {
      // From the request's arrival: its time in the queue, then its prefill.
      const double since_arrival = std::chrono::duration<double>(Clock::now() - it->second->arrived).count();
      metrics_.time_to_first_token(name_, since_arrival - r->seconds + r->time_to_first_token_ms / 1e3);
      metrics_.add_tokens(name_, "prompt", r->prompt_tokens);
      metrics_.add_tokens(name_, "generated", r->tokens.size());
    }
    it->second->finish(std::move(r));
    running_.erase(it);
  };
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || generator_.active() > 0; });
      if (stopping_ && queue_.empty() && generator_.active() == 0) return;
      // Waiting requests take the free slots between two steps.
      const Clock::time_point now = Clock::now();
      while (!queue_.empty() && generator_.free_slots() > 0) {
        Pending p = std::move(queue_.front());
        queue_.pop_front();
        if (p.stream->cancelled()) continue;
        if (p.stream->deadline <= now) {
          p.stream->finish(Error("the request waited past its timeout (--timeout-ms)"), true);
          continue;
        }
        const size_t id = next_id_++;
        if (Status s = generator_.add(id, std::move(p.request)); !s) {
          p.stream->finish(s.error());
          continue;
        }
        running_.emplace(id, std::move(p.stream));
      }
      metrics_.set_queue_depth(name_, queue_.size() + generator_.active());
    }
    // Sequences whose client is gone or whose time is up leave before the next forward.
    const Clock::time_point now = Clock::now();
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second->cancelled() || it->second->deadline <= now) {
        generator_.cancel(it->first);
        it->second->finish(Error("the request ran past its timeout (--timeout-ms)"), !it->second->cancelled());
        it = running_.erase(it);
      } else {
        ++it;
      }
    }
    const auto update_depth = [&] {
      std::lock_guard lock(mutex_);
      metrics_.set_queue_depth(name_, queue_.size() + generator_.active());
    };
    const size_t batch = generator_.active();
    if (batch == 0) {
      update_depth();
      continue;
    }
    Status s;
    try {
      s = generator_.step(on_text, on_done);
    } catch (const std::exception& e) {
      s = Error(fmt::format("internal error: {}", e.what()));
    }
    metrics_.batch_done(name_, batch, batch);
    update_depth();
    if (!s) {  // the model failed: every running request fails with it, the slots are freed
      for (auto& [id, stream] : running_) {
        generator_.cancel(id);
        stream->finish(s.error());
      }
      running_.clear();
    }
  }
}

}  // namespace sparq::serve
