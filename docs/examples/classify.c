/* Classifies a text file, one document per line, with the sparq C API and prints one label
 * per line (as `sparq classify --format txt` would choose them).
 *
 *   cc -std=c99 classify.c $(pkg-config --cflags --libs sparq) -o classify
 *   ./classify models/debian-sections-s90b4-q8.sparq documents.txt
 *
 * A line that cannot be classified (not UTF-8, empty) prints "?" and its error goes to
 * stderr. Lines are sent in batches, so memory stays bounded for a file of any length. */
#define _POSIX_C_SOURCE 200809L /* getline */

#include <sparq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 64 };

/* Classifies texts[0..count), lines first_line.. of the input, and prints their labels;
 * 0 on success. */
static int classify_batch(sparq_model* model, char** texts, size_t count, size_t first_line) {
  sparq_classification* result = NULL;
  sparq_error* error = sparq_classify(model, (const char* const*)texts, count, &result);
  if (error) {
    fprintf(stderr, "classify: %s\n", sparq_error_message(error));
    sparq_error_free(error);
    return 1;
  }
  for (size_t i = 0; i < count; ++i) {
    const sparq_error* text_error = sparq_classification_error(result, i);
    if (text_error) {
      fprintf(stderr, "classify: line %zu: %s\n", first_line + i, sparq_error_message(text_error));
      puts("?");
    } else {
      puts(sparq_classification_label(result, i));
    }
  }
  sparq_classification_free(result);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL.sparq TEXTS.txt\n", argv[0]);
    return 2;
  }
  FILE* in = fopen(argv[2], "r");
  if (!in) {
    perror(argv[2]);
    return 1;
  }
  sparq_model* model = NULL;
  sparq_error* error = sparq_model_open(argv[1], &model);
  if (error) {
    fprintf(stderr, "classify: %s\n", sparq_error_message(error));
    sparq_error_free(error);
    fclose(in);
    return 1;
  }
  fprintf(stderr, "sparq %s: %zu labels, up to %zu tokens per text\n", sparq_version(),
          sparq_model_num_labels(model), sparq_model_max_length(model));

  char* texts[BATCH];
  size_t count = 0, capacity = 0, lines = 0;
  char* line = NULL;
  ssize_t length;
  int status = 0;
  while (status == 0 && (length = getline(&line, &capacity, in)) >= 0) {
    while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r')) line[--length] = '\0';
    texts[count++] = line; /* the batch owns the line; getline allocates the next */
    ++lines;
    line = NULL;
    capacity = 0;
    if (count == BATCH) {
      status = classify_batch(model, texts, count, lines - count + 1);
      while (count > 0) free(texts[--count]);
    }
  }
  if (status == 0 && count > 0) status = classify_batch(model, texts, count, lines - count + 1);
  while (count > 0) free(texts[--count]);
  free(line);
  fclose(in);
  sparq_model_free(model);
  return status;
}
