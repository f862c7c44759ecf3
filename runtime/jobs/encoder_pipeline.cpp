#include "runtime/jobs/encoder_pipeline.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "kernels/threading.h"
#include "runtime/jobs/model_tokenizer.h"

namespace sparq::runtime {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The model's own limit on tokens per document.
size_t model_max_length(const EncoderModel& model) {
  const BertConfig& c = model.config();
  size_t positions = c.max_positions > c.position_offset ? c.max_positions - c.position_offset : 0;
  const nlohmann::json& m = model.metadata();
  if (auto it = m.find("max_tokens"); it != m.end() && it->is_number_unsigned()) {
    return std::min<size_t>(positions, it->get<size_t>());
  }
  return positions;
}

}  // namespace

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = size_t(std::ceil(p / 100.0 * double(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

EncoderPipeline::EncoderPipeline(EncoderModel& model, std::shared_ptr<const Tokenizer> tokenizer,
                                 EncoderTask task, const BatchingOptions& options, size_t max_length)
    : model_(model), tokenizer_(std::move(tokenizer)), task_(task), options_(options), max_length_(max_length) {}

Result<std::unique_ptr<EncoderPipeline>> EncoderPipeline::create(EncoderModel& model, EncoderTask task,
                                                                 const BatchingOptions& options) {
  if (task == EncoderTask::classify && model.config().num_labels == 0) {
    return Error(fmt::format("{}: this model is an embedder (no classifier head): it embeds documents, it cannot "
                             "classify them",
                             model.path()),
                 ErrorKind::invalid_argument)
        .about("task");
  }
  Result<std::shared_ptr<const Tokenizer>> tokenizer =
      tokenizer_from_metadata(model.metadata(), model.path(), model.config().vocab_size);
  if (!tokenizer) return tokenizer.error();
  size_t limit = model_max_length(model);
  size_t max_length = options.max_length == 0 ? limit : options.max_length;
  if (max_length > limit) {
    return Error(fmt::format("maximum length {}: the model takes at most {} tokens per document", max_length, limit),
                 ErrorKind::invalid_argument)
        .about("max_length");
  }
  BatchingOptions resolved = options;
  if (resolved.max_tokens_per_batch == 0) resolved.max_tokens_per_batch = resolved.max_batch * max_length;
  if (max_length < 2 || resolved.max_batch == 0 || resolved.max_tokens_per_batch < max_length) {
    return Error(fmt::format("batching: need max length >= 2, batch >= 1 and max tokens per batch >= max length "
                             "(got {}, {}, {})",
                             max_length, resolved.max_batch, resolved.max_tokens_per_batch),
                 ErrorKind::invalid_argument);
  }
  return std::unique_ptr<EncoderPipeline>(new EncoderPipeline(model, std::move(*tokenizer), task, resolved, max_length));
}

size_t EncoderPipeline::output_size() const {
  return task_ == EncoderTask::classify ? model_.config().num_labels : model_.embedding_dim();
}

Result<Encoding> EncoderPipeline::encode(const std::string& text) const {
  return tokenizer_->encode(text, max_length_);
}

Status EncoderPipeline::run(std::span<const Document> docs, std::vector<DocumentOutput>& out,
                            const std::function<void(size_t done)>& on_batch) {
  out.assign(docs.size(), DocumentOutput{});
  std::vector<Encoding> encodings(docs.size());
  auto t0 = std::chrono::steady_clock::now();
  // Tokenisers are thread-safe; documents vary a lot in length, hence dynamic scheduling.
#pragma omp parallel for schedule(dynamic, 4) num_threads(kernels::num_threads())
  for (size_t i = 0; i < docs.size(); ++i) {
    if (docs[i].error) {
      out[i].error = docs[i].error;
      continue;
    }
    Result<Encoding> e = tokenizer_->encode(docs[i].text, max_length_);
    if (!e) {
      out[i].error = RecordError{"tokenize_failed", e.error().message()};
    } else if (e->ids.empty()) {
      out[i].error = RecordError{"empty_text", "the text has no tokens"};
    } else {
      encodings[i] = std::move(*e);
    }
  }
  stats_.tokenize_seconds += seconds_since(t0);

  std::vector<const Encoding*> todo_in;
  std::vector<DocumentOutput*> todo_out;
  for (size_t i = 0; i < docs.size(); ++i) {
    ++stats_.documents;
    if (out[i].error) {
      ++stats_.errors;
      continue;
    }
    todo_in.push_back(&encodings[i]);
    todo_out.push_back(&out[i]);
  }
  const size_t failed = docs.size() - todo_in.size();
  return run_batches(todo_in, todo_out, [&](size_t done) {
    if (on_batch) on_batch(failed + done);
  });
}

Status EncoderPipeline::run_encoded(std::span<const Encoding> encodings, std::vector<DocumentOutput>& out) {
  out.assign(encodings.size(), DocumentOutput{});
  std::vector<const Encoding*> in;
  std::vector<DocumentOutput*> outs;
  for (size_t i = 0; i < encodings.size(); ++i) {
    ++stats_.documents;
    in.push_back(&encodings[i]);
    outs.push_back(&out[i]);
  }
  return run_batches(in, outs);
}

Status EncoderPipeline::run_batches(std::span<const Encoding* const> encodings, std::span<DocumentOutput*> outputs,
                                    const std::function<void(size_t done)>& on_batch) {
  // Longest first: each batch is then padded to its first document, and the greedy fill
  // below packs as many documents as the token budget allows.
  std::vector<size_t> order(encodings.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return encodings[a]->ids.size() > encodings[b]->ids.size(); });

  const size_t width = output_size();
  for (size_t start = 0; start < order.size();) {
    const size_t seq_len = std::min(encodings[order[start]]->ids.size(), max_length_);
    size_t count = 1;
    while (start + count < order.size() && count < options_.max_batch &&
           (count + 1) * seq_len <= options_.max_tokens_per_batch) {
      ++count;
    }
    batch_.batch = count;
    batch_.seq_len = seq_len;
    batch_.ids.assign(count * seq_len, tokenizer_->pad_id());
    batch_.type_ids.assign(count * seq_len, 0);
    batch_.lengths.resize(count);
    for (size_t b = 0; b < count; ++b) {
      const Encoding& e = *encodings[order[start + b]];
      size_t n = std::min(e.ids.size(), seq_len);
      std::copy_n(e.ids.begin(), n, batch_.ids.begin() + b * seq_len);
      if (e.type_ids.size() >= n) std::copy_n(e.type_ids.begin(), n, batch_.type_ids.begin() + b * seq_len);
      batch_.lengths[b] = int32_t(n);
      stats_.tokens += n;
      if (e.truncated_tokens > 0) {
        ++stats_.truncated_documents;
        stats_.truncated_tokens += e.truncated_tokens;
      }
    }
    stats_.padded_tokens += count * seq_len;
    batch_out_.resize(count * width);
    auto t0 = std::chrono::steady_clock::now();
    Status s = task_ == EncoderTask::classify ? model_.classify(batch_, batch_out_) : model_.embed(batch_, batch_out_);
    if (!s) return s;
    double dt = seconds_since(t0);
    stats_.forward_seconds += dt;
    stats_.batch_ms.push_back(dt * 1e3);
    for (size_t b = 0; b < count; ++b) {
      const Encoding& e = *encodings[order[start + b]];
      DocumentOutput& o = *outputs[order[start + b]];
      o.values.assign(batch_out_.begin() + b * width, batch_out_.begin() + (b + 1) * width);
      o.tokens = uint32_t(batch_.lengths[b]);
      o.truncated_tokens = uint32_t(e.truncated_tokens);
      // NaN or inf weights (or an overflow) make outputs no sink can write as a number.
      if (!std::all_of(o.values.begin(), o.values.end(), [](float v) { return std::isfinite(v); })) {
        o.values.clear();
        o.error = RecordError{"non_finite_output", "the model produced NaN or infinite values for this document"};
      }
    }
    start += count;
    if (on_batch) on_batch(start);
  }
  return {};
}

}  // namespace sparq::runtime
