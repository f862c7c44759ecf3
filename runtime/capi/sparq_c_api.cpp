// The C API over EncoderModel and EncoderPipeline. No exception leaves an entry point: library
// errors become sparq_error values, and anything thrown (allocation failure, a bug) is
// caught at the boundary and reported as SPARQ_ERROR_INTERNAL.
#include "runtime/capi/sparq.h"

#include <fmt/core.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "runtime/jobs/class_probabilities.h"
#include "runtime/jobs/document_job.h"
#include "runtime/jobs/encoder_pipeline.h"
#include "runtime/model/encoder_model.h"
#include "sparq_version.h"

struct sparq_error {
  std::string message;
  sparq_error_kind kind;
};

struct sparq_model {
  std::unique_ptr<sparq::runtime::EncoderModel> model;
  // Shared with every classification result, so results may outlive the model.
  std::shared_ptr<const std::vector<std::string>> labels;
  sparq_task task = SPARQ_TASK_CLASSIFY;
  size_t max_length = 0;

  // EncoderModel runs one forward at a time and a pipeline keeps per-run buffers: the lock
  // makes a shared handle safe. The pipeline of the model's own task is made at open (so a
  // model without a usable tokenizer fails there); an embedding pipeline for a classifier
  // only when first asked for.
  std::mutex run_mutex;
  std::unique_ptr<sparq::runtime::EncoderPipeline> classify, embed;
};

// One entry per text: its error or its values (num_labels probabilities, or an embedding).
struct TextResults {
  size_t width = 0;
  std::vector<std::optional<sparq_error>> errors;
  std::vector<uint32_t> truncated_tokens;

  size_t count() const { return errors.size(); }
  bool ok(size_t i) const { return i < count() && !errors[i]; }
};

struct sparq_classification : TextResults {
  std::shared_ptr<const std::vector<std::string>> labels;
  std::vector<double> probabilities;
  std::vector<int64_t> label_index;
};

struct sparq_embeddings : TextResults {
  std::vector<float> vectors;
};

namespace {

using sparq::ErrorKind;
using sparq::runtime::DocumentOutput;
using sparq::runtime::EncoderPipeline;
using sparq::runtime::EncoderTask;

// Returned when even an error cannot be allocated; sparq_error_free leaves it alone.
sparq_error g_out_of_memory{"out of memory", SPARQ_ERROR_INTERNAL};
// What the error accessors return for a NULL result or an index past the end, so that a
// caller's bad index never reads as "this text succeeded".
const sparq_error g_no_such_text{"no such text: NULL result or index past the end", SPARQ_ERROR_INVALID_ARGUMENT};

sparq_error_kind kind_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_input: return SPARQ_ERROR_INVALID_INPUT;
    case ErrorKind::invalid_argument: return SPARQ_ERROR_INVALID_ARGUMENT;
    case ErrorKind::unsupported: return SPARQ_ERROR_UNSUPPORTED;
    case ErrorKind::below_floor: break;  // no C API call checks a floor
  }
  return SPARQ_ERROR_INTERNAL;
}

sparq_error* new_error(sparq_error_kind kind, const char* function, const std::string& what) noexcept {
  try {
    return new sparq_error{fmt::format("{}: {}", function, what), kind};
  } catch (...) {
    return &g_out_of_memory;
  }
}

sparq_error* new_error(const char* function, const sparq::Error& e) noexcept {
  return new_error(kind_of(e.kind()), function, e.message());
}

// Runs `body` (returning sparq_error*) with every exception turned into an error.
template <class Body>
sparq_error* guarded(const char* function, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return new_error(SPARQ_ERROR_INTERNAL, function, "out of memory");
  } catch (const std::exception& e) {
    return new_error(SPARQ_ERROR_INTERNAL, function, fmt::format("internal error: {}", e.what()));
  } catch (...) {
    return new_error(SPARQ_ERROR_INTERNAL, function, "internal error");
  }
}

sparq_error* null_argument(const char* function, const char* name) {
  return new_error(SPARQ_ERROR_INVALID_ARGUMENT, function, fmt::format("{} is NULL", name));
}

// Runs texts[0..count) through the model's pipeline for `task` and fills `results`' errors
// and truncation counts; `outputs` gets the values of the texts that succeeded.
sparq_error* run_texts(const char* function, sparq_model& m, EncoderTask task, const char* const* texts, size_t count,
                       TextResults& results, std::vector<DocumentOutput>& outputs) {
  // As `sparq classify` reads its documents: the same limit, the same per-text checks.
  const size_t max_text_bytes = sparq::runtime::DocumentJobOptions{}.max_text_bytes;
  std::vector<sparq::runtime::Document> docs(count);
  for (size_t i = 0; i < count; ++i) {
    docs[i].index = i;
    if (!texts[i]) {
      docs[i].error = sparq::runtime::RecordError{"null_text", "text is NULL"};
      continue;
    }
    docs[i].error = sparq::runtime::check_document_text(texts[i], max_text_bytes);
    if (!docs[i].error) docs[i].text = texts[i];
  }

  std::lock_guard lock(m.run_mutex);
  std::unique_ptr<EncoderPipeline>& pipeline = task == EncoderTask::classify ? m.classify : m.embed;
  if (!pipeline) {
    auto created = EncoderPipeline::create(*m.model, task, {});
    if (!created) return new_error(function, created.error());
    pipeline = std::move(*created);
  }
  sparq::Status status = pipeline->run(docs, outputs);
  // Statistics are for the CLI's summaries; unreset, they would grow with every call.
  pipeline->reset_stats();
  if (!status) return new_error(function, status.error());

  results.width = pipeline->output_size();
  results.errors.resize(count);
  results.truncated_tokens.resize(count);
  for (size_t i = 0; i < count; ++i) {
    if (outputs[i].error) {
      sparq_error_kind kind = texts[i] ? SPARQ_ERROR_INVALID_INPUT : SPARQ_ERROR_INVALID_ARGUMENT;
      results.errors[i] = sparq_error{fmt::format("{}: text {}: {}", function, i, outputs[i].error->message), kind};
    }
    results.truncated_tokens[i] = outputs[i].truncated_tokens;
  }
  return nullptr;
}

sparq_error* check_batch_arguments(const char* function, const sparq_model* model, const char* const* texts,
                                   size_t count, const void* result) {
  if (!result) return null_argument(function, "result");
  if (!model) return null_argument(function, "model");
  if (!texts && count > 0) return null_argument(function, "texts");
  return nullptr;
}

const sparq_error* text_error(const TextResults* r, size_t i) {
  if (!r || i >= r->count()) return &g_no_such_text;
  return r->errors[i] ? &*r->errors[i] : nullptr;
}

}  // namespace

extern "C" {

const char* sparq_version(void) { return SPARQ_VERSION_STRING; }

const char* sparq_error_message(const sparq_error* error) { return error ? error->message.c_str() : nullptr; }

sparq_error_kind sparq_error_kind_of(const sparq_error* error) {
  return error ? error->kind : sparq_error_kind(0);
}

void sparq_error_free(sparq_error* error) {
  if (error != &g_out_of_memory) delete error;
}

sparq_error* sparq_model_open(const char* path, sparq_model** model) {
  static constexpr const char* kFunction = "sparq_model_open";
  if (!model) return null_argument(kFunction, "model");
  *model = nullptr;
  if (!path) return null_argument(kFunction, "path");
  return guarded(kFunction, [&]() -> sparq_error* {
    auto loaded = sparq::runtime::EncoderModel::load(path);
    if (!loaded) return new_error(kFunction, loaded.error());
    auto m = std::make_unique<sparq_model>();
    m->model = std::move(*loaded);
    m->labels = std::make_shared<const std::vector<std::string>>(m->model->labels());
    const EncoderTask task = m->labels->empty() ? EncoderTask::embed : EncoderTask::classify;
    m->task = task == EncoderTask::classify ? SPARQ_TASK_CLASSIFY : SPARQ_TASK_EMBED;
    auto pipeline = EncoderPipeline::create(*m->model, task, {});
    if (!pipeline) return new_error(kFunction, pipeline.error().within(path));
    m->max_length = (*pipeline)->max_length();
    (task == EncoderTask::classify ? m->classify : m->embed) = std::move(*pipeline);
    *model = m.release();
    return nullptr;
  });
}

void sparq_model_free(sparq_model* model) { delete model; }

sparq_task sparq_model_task(const sparq_model* model) { return model ? model->task : sparq_task(0); }

size_t sparq_model_num_labels(const sparq_model* model) { return model ? model->labels->size() : 0; }

const char* sparq_model_label(const sparq_model* model, size_t label_index) {
  if (!model || label_index >= model->labels->size()) return nullptr;
  return (*model->labels)[label_index].c_str();
}

size_t sparq_model_embedding_dim(const sparq_model* model) { return model ? model->model->embedding_dim() : 0; }

size_t sparq_model_max_length(const sparq_model* model) { return model ? model->max_length : 0; }

sparq_error* sparq_classify(sparq_model* model, const char* const* texts, size_t count,
                            sparq_classification** result) {
  static constexpr const char* kFunction = "sparq_classify";
  if (sparq_error* e = check_batch_arguments(kFunction, model, texts, count, result)) return e;
  *result = nullptr;
  if (model->task != SPARQ_TASK_CLASSIFY) {
    return new_error(SPARQ_ERROR_INVALID_ARGUMENT, kFunction,
                     "this model is an embedder (no classifier head): use sparq_embed");
  }
  return guarded(kFunction, [&]() -> sparq_error* {
    auto r = std::make_unique<sparq_classification>();
    std::vector<DocumentOutput> outputs;
    if (sparq_error* e = run_texts(kFunction, *model, EncoderTask::classify, texts, count, *r, outputs)) return e;
    r->labels = model->labels;
    r->probabilities.assign(count * r->width, 0.0);
    r->label_index.assign(count, -1);
    for (size_t i = 0; i < count; ++i) {
      if (!r->ok(i)) continue;
      const std::vector<float>& z = outputs[i].values;
      double* p = r->probabilities.data() + i * r->width;
      sparq::runtime::class_probabilities(z, model->model->temperature(), {p, z.size()});
      r->label_index[i] = std::max_element(p, p + z.size()) - p;
    }
    *result = r.release();
    return nullptr;
  });
}

size_t sparq_classification_count(const sparq_classification* result) { return result ? result->count() : 0; }

const sparq_error* sparq_classification_error(const sparq_classification* result, size_t i) {
  return text_error(result, i);
}

int64_t sparq_classification_label_index(const sparq_classification* result, size_t i) {
  return result && result->ok(i) ? result->label_index[i] : -1;
}

const char* sparq_classification_label(const sparq_classification* result, size_t i) {
  int64_t label = sparq_classification_label_index(result, i);
  return label < 0 ? nullptr : (*result->labels)[size_t(label)].c_str();
}

double sparq_classification_score(const sparq_classification* result, size_t i) {
  int64_t label = sparq_classification_label_index(result, i);
  return label < 0 ? 0.0 : result->probabilities[i * result->width + size_t(label)];
}

const double* sparq_classification_probabilities(const sparq_classification* result, size_t i) {
  return result && result->ok(i) ? result->probabilities.data() + i * result->width : nullptr;
}

uint32_t sparq_classification_truncated_tokens(const sparq_classification* result, size_t i) {
  return result && i < result->count() ? result->truncated_tokens[i] : 0;
}

void sparq_classification_free(sparq_classification* result) { delete result; }

sparq_error* sparq_embed(sparq_model* model, const char* const* texts, size_t count, sparq_embeddings** result) {
  static constexpr const char* kFunction = "sparq_embed";
  if (sparq_error* e = check_batch_arguments(kFunction, model, texts, count, result)) return e;
  *result = nullptr;
  return guarded(kFunction, [&]() -> sparq_error* {
    auto r = std::make_unique<sparq_embeddings>();
    std::vector<DocumentOutput> outputs;
    if (sparq_error* e = run_texts(kFunction, *model, EncoderTask::embed, texts, count, *r, outputs)) return e;
    r->vectors.assign(count * r->width, 0.0f);
    for (size_t i = 0; i < count; ++i) {
      if (r->ok(i)) std::copy(outputs[i].values.begin(), outputs[i].values.end(), r->vectors.begin() + i * r->width);
    }
    *result = r.release();
    return nullptr;
  });
}

size_t sparq_embeddings_count(const sparq_embeddings* result) { return result ? result->count() : 0; }

size_t sparq_embeddings_dim(const sparq_embeddings* result) { return result ? result->width : 0; }

const sparq_error* sparq_embeddings_error(const sparq_embeddings* result, size_t i) { return text_error(result, i); }

const float* sparq_embeddings_vector(const sparq_embeddings* result, size_t i) {
  return result && result->ok(i) ? result->vectors.data() + i * result->width : nullptr;
}

uint32_t sparq_embeddings_truncated_tokens(const sparq_embeddings* result, size_t i) {
  return result && i < result->count() ? result->truncated_tokens[i] : 0;
}

void sparq_embeddings_free(sparq_embeddings* result) { delete result; }

}  // extern "C"
