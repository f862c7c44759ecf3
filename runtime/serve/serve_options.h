// What `sparq serve` is asked to do: the models, where to listen, and the limits that keep a
// loaded server answering (bounded queues, request sizes, timeouts) rather than growing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sparq::serve {

struct ServeOptions {
  std::vector<std::string> models;       // .sparq files, encoders or decoders
  std::vector<std::string> model_names;  // the names clients use, one per model (default: the file's stem)
  std::string host = "127.0.0.1";        // loopback unless told otherwise
  int port = 8080;                       // 0: any free port (said on stderr)
  int threads = 0;                       // kernel threads; 0: all CPUs (or OMP_NUM_THREADS)
  int numa_node = -1;                    // the NUMA node threads and memory are bound to; -1: none
  // Encoders: padded tokens per forward (documents × longest); the batcher takes waiting
  // requests into one forward up to this budget.
  size_t max_batch_tokens = 16384;
  // Texts in one request (TEI's max_client_batch_size); more is 413.
  size_t max_client_batch_size = 32;
  // Requests waiting for or inside a model, per model; one more is answered 429.
  size_t max_queue = 128;
  // Decoders: sequences decoding together (KV-cache slots) and the cache's context.
  size_t decode_slots = 8;
  size_t context = 0;  // 0: the model's
  // Prompt tokens a sequence prefills per forward, so that a long prompt joining the batch
  // does not stall the sequences already decoding; 0: whole prompts.
  size_t prefill_chunk = 256;
  size_t max_request_bytes = size_t{1} << 20;
  uint64_t timeout_ms = 60000;  // per request, queueing included; 0: none
  std::string api_key;          // when not empty, every route but /health needs "Authorization: Bearer KEY"
  bool quiet = false;           // no access log on stderr
};

}  // namespace sparq::serve
