// The batch engine between documents and an EncoderModel: tokenises a chunk of documents
// in parallel, sorts them by length into batches under a token budget (so padding stays
// small and attention cost stays bounded), runs the model, and hands back one output per
// document in input order. Truncation to the model's maximum length is counted, never
// silent; a document that cannot be tokenised yields an error, and the chunk goes on.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "formats/error.h"
#include "runtime/jobs/document_reader.h"
#include "runtime/model/encoder_model.h"
#include "runtime/text/tokenizer.h"

namespace sparq::runtime {

enum class EncoderTask { classify, embed };

struct BatchingOptions {
  // Padded tokens per forward pass (documents × longest document in the batch); 0 means
  // max_batch × max length, i.e. only max_batch limits the batch.
  size_t max_tokens_per_batch = 8192;
  size_t max_batch = 64;
  // Tokens per document including special tokens; 0: the model's limit (metadata
  // "max_tokens", else max_positions - position_offset). More than the model's limit is
  // an error.
  size_t max_length = 0;
};

struct DocumentOutput {
  std::vector<float> values;   // logits (classify) or the embedding (embed)
  uint32_t tokens = 0;         // tokens the model saw
  uint32_t truncated_tokens = 0;
  std::optional<RecordError> error;
};

struct PipelineStats {
  uint64_t documents = 0, errors = 0, tokens = 0, padded_tokens = 0;
  uint64_t truncated_documents = 0, truncated_tokens = 0;
  double tokenize_seconds = 0, forward_seconds = 0;
  std::vector<double> batch_ms;  // wall time of every forward pass
};

class EncoderPipeline {
 public:
  // The tokenizer comes from the model file's metadata ("tokenizer").
  static Result<std::unique_ptr<EncoderPipeline>> create(EncoderModel& model, EncoderTask task,
                                                         const BatchingOptions& options);

  EncoderTask task() const { return task_; }
  size_t output_size() const;  // num_labels (classify) or hidden size (embed)
  size_t max_length() const { return max_length_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

  // One output per document, out[i] for docs[i]. Documents that arrive with an error keep
  // it. Fails only on a model error (a bug or resource failure, not a bad document).
  // `on_batch`, when given, is told after each forward pass how many of `docs` are done.
  Status run(std::span<const Document> docs, std::vector<DocumentOutput>& out,
             const std::function<void(size_t done)>& on_batch = {});
  // Same, for documents already tokenised (benchmarks replay one tokenisation).
  Status run_encoded(std::span<const Encoding> encodings, std::vector<DocumentOutput>& out);
  Result<Encoding> encode(const std::string& text) const;

  const PipelineStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 private:
  EncoderPipeline(EncoderModel& model, std::shared_ptr<const Tokenizer> tokenizer, EncoderTask task,
                  const BatchingOptions& options, size_t max_length);
  Status run_batches(std::span<const Encoding* const> encodings, std::span<DocumentOutput*> outputs,
                     const std::function<void(size_t done)>& on_batch = {});

  EncoderModel& model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  EncoderTask task_;
  BatchingOptions options_;
  size_t max_length_;
  PipelineStats stats_;
  TokenBatch batch_;
  std::vector<float> batch_out_;
};

// p in [0, 100] of `values` (nearest-rank on a sorted copy); 0 for no values.
double percentile(std::vector<double> values, double p);

}  // namespace sparq::runtime
