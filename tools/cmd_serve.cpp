// sparq serve: an HTTP inference server for .sparq models (runtime/serve). This file reads
// the options and turns SIGTERM/SIGINT into a graceful stop; the library does the rest.
#include <fmt/core.h>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "tools/command.h"

#ifdef SPARQ_HAVE_SERVE
#include "runtime/serve/http_server.h"
#include "runtime/serve/model_registry.h"
#include "runtime/serve/numa_binding.h"
#endif

namespace sparq::tools {
namespace {

#ifdef SPARQ_HAVE_SERVE
// The key in `path`, without surrounding whitespace (a trailing newline, as `echo` writes it).
Result<std::string> read_api_key(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(fmt::format("{}: cannot read the API key file", path));
  std::stringstream text;
  text << in.rdbuf();
  std::string key = text.str();
  const size_t first = key.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return Error(fmt::format("{}: the API key file is empty", path));
  key = key.substr(first, key.find_last_not_of(" \t\r\n") - first + 1);
  if (key.find_first_of(" \t\r\n") != std::string::npos) {
    return Error(fmt::format("{}: the API key file holds more than one word; put the key alone in it", path));
  }
  return key;
}

Status run_serve(serve::ServeOptions options, const std::string& api_key_file) {
  if (!api_key_file.empty()) {
    auto key = read_api_key(api_key_file);
    if (!key) return key.error();
    options.api_key = std::move(*key);
  }
  if (options.max_queue == 0 || options.decode_slots == 0 || options.max_client_batch_size == 0) {
    return Error("--max-queue, --slots and --max-client-batch-size must be at least 1", ErrorKind::invalid_argument);
  }
  // Before any thread exists: threads inherit the binding of the thread that starts them.
  if (options.numa_node >= 0) {
    Result<int> node_cpus = serve::bind_to_numa_node(options.numa_node);
    if (!node_cpus) return node_cpus.error();
    if (options.threads == 0) options.threads = *node_cpus;
  }
  // SIGTERM and SIGINT go to the watcher below, never to a thread busy with a request: blocked
  // here, before any thread (connection, model worker, OpenMP) exists to inherit them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  serve::HttpServer server(options);
  Result<int> port = server.bind();
  if (!port) return port.error();
  fmt::print(stderr, "sparq serve: listening on http://{}:{}/ (loading {} model{})\n", options.host, *port,
             options.models.size(), options.models.size() == 1 ? "" : "s");
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    if (!finished) fmt::print(stderr, "sparq serve: stopping: no new connections, finishing the requests in flight\n");
    server.stop();
  });
  Status status = server.run([&] { fmt::print(stderr, "sparq serve: ready\n"); });
  finished = true;
  pthread_kill(watcher.native_handle(), SIGTERM);  // wakes the watcher when no signal came
  watcher.join();
  if (status) fmt::print(stderr, "sparq serve: stopped\n");
  return status;
}
#endif

}  // namespace

Command add_serve_command(CLI::App& parent) {
  CLI::App* app = parent.add_subcommand(
      "serve",
      "Serve .sparq models over HTTP/1.1: Text Embeddings Inference's routes (POST /embed, /predict, /tokenize; GET "
      "/health, /info, /metrics), OpenAI's (POST /v1/embeddings, /v1/completions, /v1/chat/completions, GET "
      "/v1/models) and llama-server's POST /completion, streaming as server-sent events on \"stream\": true. "
      "Encoder requests arriving together share a forward pass (dynamic batching); decoder requests join the "
      "running batch between decode steps (continuous batching); past --max-queue waiting requests a model answers "
      "429. Listens on "
      "loopback unless --host says otherwise; SIGTERM or SIGINT stop it after the requests in flight are "
      "answered. See docs/serving.md.");
#ifdef SPARQ_HAVE_SERVE
  auto o = std::make_shared<serve::ServeOptions>();
  auto api_key_file = std::make_shared<std::string>();
  app->add_option("models", o->models, "The .sparq models to serve")->required();
  app->add_option("--host", o->host, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
  app->add_option("--port", o->port, "Port to listen on (0: any free port, printed on stderr)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app->add_option("--threads,-t", o->threads,
                  "Kernel threads (default: all CPUs, or OMP_NUM_THREADS; with --numa-node: the node's CPUs)");
  app->add_option("--numa-node", o->numa_node,
                  "Run on this NUMA node's CPUs with memory from its memory (one replica per node; `sparq hwinfo` "
                  "lists them)")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--max-batch-tokens", o->max_batch_tokens,
                  "Encoders: tokens per forward pass (texts x longest text), the budget requests are batched under")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--max-client-batch-size", o->max_client_batch_size,
                  "Texts one request may hold; more is answered 413")
      ->capture_default_str();
  app->add_option("--max-queue", o->max_queue,
                  "Requests waiting per model; one more is answered 429 with Retry-After")
      ->capture_default_str();
  app->add_option("--slots", o->decode_slots,
                  "Decoders: sequences decoding together (KV-cache slots); more requests wait in the queue")
      ->capture_default_str();
  app->add_option("--context", o->context, "Decoders: KV-cache length in tokens (default: the model's context)");
  app->add_option("--prefill-chunk", o->prefill_chunk,
                  "Decoders: prompt tokens fed per forward beside the running sequences (0: whole prompts)")
      ->capture_default_str();
  app->add_option("--max-request-bytes", o->max_request_bytes, "Largest request body; a larger one is answered 413")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app->add_option("--timeout-ms", o->timeout_ms,
                  "A request still waiting for its model after this long is answered 503 (0: no limit)")
      ->capture_default_str();
  app->add_option("--api-key-file", *api_key_file,
                  "A file holding an API key: every route but /health then needs \"Authorization: Bearer KEY\"");
  app->add_option("--model-name", o->model_names,
                  "The name clients use for each model, in the order of the models (default: the file name without "
                  ".sparq)");
  app->add_flag("--quiet,-q", o->quiet, "No access log on stderr");
  return {app, [o, api_key_file]() { return run_serve(*o, *api_key_file); }};
#else
  app->allow_extras();
  return {app, []() -> Status {
            return Error("this build of sparq has no server (it is built only where Debian's libcpp-httplib-dev can "
                         "be linked, not in a fully static build)",
                         ErrorKind::unsupported);
          }};
#endif
}

}  // namespace sparq::tools
