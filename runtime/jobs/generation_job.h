// The decoder's batch job, behind `sparq generate --input` (and any other front end): prompts —
// a text, or a chat conversation rendered with the model's template — streamed through a
// TextGenerator by the record job engine (record_job.h: chunks, checkpoints, resume, shards).
// A chunk's prompts share the KV cache's slots (continuous batching); every result is handed,
// in input order, to a sink that writes one record per prompt.
//
// A record's text depends on the record and the job's options only, never on the batch size,
// the chunk, the shard or a resume: its sampler has a seed of its own, derived from the job's
// seed and the record's input index (record_seed()), and a sequence's logits do not depend on
// the others sharing its forward passes. The same prompt, options and seed give the same
// text through `sparq generate --prompt`.
//
// A record may set its own max_tokens, temperature, seed (used as it is, not derived) and stop
// (a string or a list, replacing the job's). A record that cannot be generated — bad fields,
// an empty prompt, a malformed conversation, a prompt that leaves no room in the context —
// gets an error record and the job goes on.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "formats/error.h"
#include "runtime/jobs/output_file.h"
#include "runtime/jobs/record_job.h"
#include "runtime/jobs/text_generator.h"
#include "runtime/model/decoder_model.h"
#include "runtime/model/sampler.h"
#include "runtime/text/tokenizer.h"

namespace sparq::runtime {

struct GenerationJobOptions : RecordJobOptions {
  // Reads "prompt" or "messages", and the per-record settings; 64 prompts per chunk.
  GenerationJobOptions();

  // Every record's settings unless it gives its own.
  size_t max_tokens = 256;
  SamplingOptions sampling;  // sampling.seed is the job's: records derive theirs from it
  std::vector<std::string> stop;
  bool ignore_eos = false;

  bool chat = false;   // a plain prompt as a user message in the model's chat template
  std::string system;  // with `chat`: a system message before it
  size_t batch_size = 8;  // KV-cache slots: sequences decoded together
  size_t context = 0;     // KV-cache length in tokens; 0: the model's
  kernels::KvEncoding kv_cache = kernels::KvEncoding::f32;  // how the KV cache stores keys and values
};

// The seed of record `index`'s sampler: XXH3-64 of the index (8 bytes, little-endian) seeded
// with the job's seed. Neighbouring records get unrelated streams.
uint64_t record_seed(uint64_t job_seed, uint64_t index);

// What one record produced.
struct GeneratedRecord {
  std::optional<RecordError> error;
  GenerationResult result;  // without an error
  uint64_t seed = 0;        // its sampler's
  bool sampled = false;     // temperature > 0: the seed chose the tokens
};

// Writes one output record per prompt.
class GenerationSink {
 public:
  virtual ~GenerationSink() = default;
  // As ResultSink::begin (document_job.h).
  virtual Status begin(uint64_t records_written) {
    (void)records_written;
    return {};
  }
  virtual Status write(const Document& doc, const GeneratedRecord& record) = 0;
  virtual Status finish() = 0;
};

using GenerationSinkFactory = std::function<Result<std::unique_ptr<GenerationSink>>(
    const DecoderModel& model, const Tokenizer& tokenizer, OutputFile& out)>;

struct GenerationStats {  // this run's records
  uint64_t records = 0, errors = 0;
  uint64_t prompt_tokens = 0, generated_tokens = 0;
  std::map<std::string, uint64_t> finish_reasons;  // "eos", "stop", "length"
};

struct GenerationJobSummary : RecordJobSummary {
  GenerationStats stats;
  uint64_t kv_cache_bytes = 0;
};

// Loads o.model, then runs the job on it.
Result<GenerationJobSummary> run_generation_job(const GenerationJobOptions& o, const GenerationSinkFactory& make_sink,
                                                const RecordJobObserver& observer = {});
// The same on a model already loaded (o.model is read only to fingerprint a batch job).
Result<GenerationJobSummary> run_generation_job(const GenerationJobOptions& o, DecoderModel& model,
                                                const GenerationSinkFactory& make_sink,
                                                const RecordJobObserver& observer = {});

}  // namespace sparq::runtime
