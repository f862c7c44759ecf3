/* sparq C API: open a .sparq encoder (a classifier or an embedder) and run it on batches of
 * texts. C99, no C++ types; no exception or abort crosses it on bad input.
 *
 *   #include <sparq.h>            cc app.c $(pkg-config --cflags --libs sparq)
 *
 * Errors are values. A call that can fail returns a sparq_error*: NULL on success, else an
 * object the caller owns and frees with sparq_error_free, whose message names what failed
 * (the function, the file, the text's index) and whose kind says what sort of failure it
 * is. There is no "last error" slot, so threads never see each other's failures. A batch
 * call fails as a whole only for a bad argument or a model failure; a text that cannot be
 * processed (NULL, not UTF-8, empty, over 1 MiB, as in `sparq classify`) gets its own error
 * in the result and the others are processed.
 *
 * Thread safety: a sparq_model may be shared by any number of threads. Its query functions
 * read immutable state and run concurrently; sparq_classify and sparq_embed on one model
 * are serialised by a lock inside the model (it has one set of working buffers, and each
 * call already runs every kernel on all OpenMP threads, OMP_NUM_THREADS of them, so a
 * second call at once would gain nothing). Calls on different models run
 * in parallel, each with its own OpenMP team, so models busy at once share the cores:
 * lower OMP_NUM_THREADS to match. Results and errors are plain data owned by the caller:
 * reading one from several threads is safe, freeing it while another reads is not. Results
 * do not refer to their model and may outlive it.
 *
 * Pointers returned by accessors (labels, messages, vectors) live as long as the object
 * they were read from. Accessors given NULL or an index past the end return NULL, 0 or -1,
 * except the per-text error accessors: they return an error saying so (never NULL, which
 * would read as success).
 */
#ifndef SPARQ_H
#define SPARQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sparq_error sparq_error;
typedef struct sparq_model sparq_model;
typedef struct sparq_classification sparq_classification;
typedef struct sparq_embeddings sparq_embeddings;

typedef enum sparq_error_kind {
  SPARQ_ERROR_INVALID_INPUT = 1,    /* unreadable or invalid data: the model file, a text */
  SPARQ_ERROR_INVALID_ARGUMENT = 2, /* a call that cannot succeed: NULL pointer, wrong task */
  SPARQ_ERROR_UNSUPPORTED = 3,      /* valid, but this CPU, OS or build cannot serve it */
  SPARQ_ERROR_INTERNAL = 4          /* out of memory, or a bug in sparq */
} sparq_error_kind;

typedef enum sparq_task {
  SPARQ_TASK_CLASSIFY = 1, /* the model has a classifier head (it can embed too) */
  SPARQ_TASK_EMBED = 2     /* the model has no classifier head */
} sparq_task;

/* The library's version, "MAJOR.MINOR.PATCH" (the shared library's SONAME carries MAJOR). */
const char* sparq_version(void);

/* ---- errors ---- */
const char* sparq_error_message(const sparq_error* error);
sparq_error_kind sparq_error_kind_of(const sparq_error* error); /* 0 for NULL */
/* Frees an error a call returned (NULL is fine). Never an error read from a result. */
void sparq_error_free(sparq_error* error);

/* ---- models ---- */
/* Opens, validates and packs a .sparq file for this CPU. On success *model is set; on
 * failure *model is NULL and the error names the file and what is wrong with it. */
sparq_error* sparq_model_open(const char* path, sparq_model** model);
void sparq_model_free(sparq_model* model);

sparq_task sparq_model_task(const sparq_model* model);
/* Classifier labels, in the order of sparq_classification_probabilities; 0 for an embedder. */
size_t sparq_model_num_labels(const sparq_model* model);
const char* sparq_model_label(const sparq_model* model, size_t label_index);
size_t sparq_model_embedding_dim(const sparq_model* model);
/* Tokens per text, special tokens included; longer texts are truncated, and counted. */
size_t sparq_model_max_length(const sparq_model* model);

/* ---- classification ---- */
/* Classifies texts[0..count) (NUL-terminated UTF-8). The model must be a classifier.
 * On success *result holds one entry per text, in order; on failure it is NULL. */
sparq_error* sparq_classify(sparq_model* model, const char* const* texts, size_t count,
                            sparq_classification** result);
size_t sparq_classification_count(const sparq_classification* result);
/* NULL when text i was classified; else why not (owned by the result). */
const sparq_error* sparq_classification_error(const sparq_classification* result, size_t i);
/* The most probable label (the first of equals), -1 for a text with an error. */
int64_t sparq_classification_label_index(const sparq_classification* result, size_t i);
const char* sparq_classification_label(const sparq_classification* result, size_t i);
/* The probability of that label; 0 for a text with an error. */
double sparq_classification_score(const sparq_classification* result, size_t i);
/* sparq_model_num_labels probabilities (softmax of the logits divided by the model's stored calibration
   temperature, 1 unless `sparq convert --temperature` set one; in double), or NULL. */
const double* sparq_classification_probabilities(const sparq_classification* result, size_t i);
/* Tokens cut from text i to fit sparq_model_max_length. */
uint32_t sparq_classification_truncated_tokens(const sparq_classification* result, size_t i);
void sparq_classification_free(sparq_classification* result);

/* ---- embeddings ---- */
/* Embeds texts[0..count), pooled and normalised as the model's configuration says. */
sparq_error* sparq_embed(sparq_model* model, const char* const* texts, size_t count,
                         sparq_embeddings** result);
size_t sparq_embeddings_count(const sparq_embeddings* result);
size_t sparq_embeddings_dim(const sparq_embeddings* result);
const sparq_error* sparq_embeddings_error(const sparq_embeddings* result, size_t i);
/* sparq_embeddings_dim floats, or NULL for a text with an error. */
const float* sparq_embeddings_vector(const sparq_embeddings* result, size_t i);
uint32_t sparq_embeddings_truncated_tokens(const sparq_embeddings* result, size_t i);
void sparq_embeddings_free(sparq_embeddings* result);

#ifdef __cplusplus
}
#endif

#endif /* SPARQ_H */
