// `sparq serve`: HTTP/1.1 with keep-alive (Debian's cpp-httplib, a pool of connection
// threads) in front of the models of a ModelRegistry. Text Embeddings Inference's routes
// (/embed, /predict, /tokenize, /health, /info, /metrics) and OpenAI's (/v1/embeddings,
// /v1/models), each answering errors in its own API's shape (api_error.h).
//
// Lifecycle: bind() (a taken port fails here, before any model is loaded), then run():
// /health answers 503 while the models load, then 200; stop() (from a signal watcher)
// closes the listening socket, lets every request in flight finish and be answered, and
// run() returns once they have.
#pragma once

#include <functional>
#include <memory>

#include "formats/error.h"
#include "runtime/serve/serve_options.h"

namespace sparq::serve {

class HttpServer {
 public:
  explicit HttpServer(ServeOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port bound (the one chosen when options.port is 0), or why not.
  Result<int> bind();
  // Loads the models and serves until stop(); returns once the last request was answered.
  // `on_ready` is called once every model is loaded and served.
  Status run(const std::function<void()>& on_ready = {});
  // Thread-safe; also before run() has loaded the models.
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sparq::serve
