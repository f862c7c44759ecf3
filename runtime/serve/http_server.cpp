#include "runtime/serve/http_server.h"

#include <fmt/core.h>

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "runtime/jobs/record_job.h"
#include "runtime/serve/routes.h"

namespace sparq::serve {
namespace {

using Clock = std::chrono::steady_clock;

// The routes metrics are kept for; anything else counts as "other", so that a scan of
// random paths cannot grow the metrics without bound.
constexpr std::string_view kRoutes[] = {"/health",        "/info",      "/metrics",   "/embed",
                                        "/predict",       "/tokenize",  "/v1/models", "/v1/embeddings",
                                        "/v1/completions", "/v1/chat/completions", "/completion"};

std::string_view route_label(const std::string& path) {
  for (std::string_view r : kRoutes) {
    if (path == r) return r;
  }
  return "other";
}

// When the request being served on this connection thread was routed.
thread_local Clock::time_point t_request_start;

// Compares without stopping at the first difference, so that the time taken does not tell
// how much of a guessed key was right.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= uint8_t(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

}  // namespace

void send_json(httplib::Response& res, int status, std::string body) {
  res.status = status;
  res.set_content(std::move(body), "application/json");
}

void send_error(httplib::Response& res, ApiStyle style, const ApiError& e) {
  if (e.retry_after_s > 0) res.set_header("Retry-After", std::to_string(e.retry_after_s));
  send_json(res, e.status, error_body(style, e));
}

struct HttpServer::State {
  explicit State(ServeOptions o) : options(std::move(o)), context{options, metrics} {}

  ServeOptions options;
  Metrics metrics;
  ServerContext context;
  httplib::Server server;
  std::unique_ptr<ModelRegistry> models;
  int listen_socket = -1;  // captured when cpp-httplib creates it
  std::atomic<bool> draining{false};
};

HttpServer::HttpServer(ServeOptions options) : state_(std::make_unique<State>(std::move(options))) {
  State& s = *state_;
  const ServeOptions& o = s.options;
  httplib::Server& server = s.server;
  // cpp-httplib holds a pool thread per open (keep-alive) connection; a connection beyond the
  // pool waits, unanswered, until one closes. So the pool is sized for clients, not for the
  // queue: at least 256 connections are served at once, each refused at once (429) when its
  // model's queue is full, rather than left waiting seconds for a thread.
  const size_t connection_threads = std::max<size_t>(o.max_queue + 8, 256);
  server.new_task_queue = [connection_threads] { return new httplib::ThreadPool(connection_threads); };
  server.set_payload_max_length(o.max_request_bytes);
  server.set_keep_alive_max_count(100000);
  server.set_keep_alive_timeout(5);
  server.set_tcp_nodelay(true);

  server.set_socket_options([&s](socket_t sock) {
    httplib::default_socket_options(sock);
    s.listen_socket = sock;
  });

  server.set_pre_routing_handler([&s](const httplib::Request& req, httplib::Response& res) {
    t_request_start = Clock::now();
    const ApiStyle style = api_style_of(req.path);
    if (!s.options.api_key.empty() && req.path != "/health") {
      const std::string auth = req.get_header_value("Authorization");
      if (!auth.starts_with("Bearer ") || !same_secret(auth.substr(7), s.options.api_key)) {
        res.set_header("WWW-Authenticate", "Bearer");
        send_error(res, style,
                   ApiError(401, "unauthorized",
                            auth.empty() ? "missing \"Authorization: Bearer KEY\" header" : "invalid API key"));
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (!s.context.models.load() && req.path != "/health" && req.path != "/metrics") {
      send_error(res, style, unavailable_error("the models are loading; retry when /health answers 200"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Draining after SIGTERM: every request is still answered, and tells its client to close
  // the connection, so that kept-alive clients (a proxy's pool) move to a new connection,
  // which is refused, rather than keep this server busy.
  server.set_post_routing_handler([&s](const httplib::Request&, httplib::Response& res) {
    if (s.draining) res.set_header("Connection", "close");
  });
  // What cpp-httplib answers by itself (no such route, a body over the limit, a malformed
  // request) gets a body in the route's API shape too.
  server.set_error_handler(httplib::Server::HandlerWithResponse([&s](const httplib::Request& req,
                                                                     httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    ApiError e(res.status, "validation", "");
    switch (res.status) {
      case 404: e.message = fmt::format("no route {} {}", req.method, req.path); break;
      case 413:
        e.message = fmt::format("the request body is over the {} bytes this server takes (--max-request-bytes)",
                                s.options.max_request_bytes);
        break;
      default: e.message = fmt::format("HTTP {}", res.status); break;
    }
    send_error(res, api_style_of(req.path), e);
    return httplib::Server::HandlerResponse::Handled;
  }));
  server.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, api_style_of(req.path), backend_error(fmt::format("internal error: {}", what)));
  });
  server.set_logger([&s](const httplib::Request& req, const httplib::Response& res) {
    const double seconds =
        t_request_start == Clock::time_point() ? 0 : std::chrono::duration<double>(Clock::now() - t_request_start).count();
    t_request_start = {};
    s.metrics.request_done(route_label(req.path), res.status, seconds);
    if (!s.options.quiet) {
      fmt::print(stderr, "sparq serve: {} {} {} {:.1f} ms\n", req.method, req.path, res.status, seconds * 1e3);
    }
  });
  add_tei_routes(server, s.context);
  add_openai_routes(server, s.context);
  add_generation_routes(server, s.context);
}

HttpServer::~HttpServer() = default;

Result<int> HttpServer::bind() {
  State& s = *state_;
  const ServeOptions& o = s.options;
  int port = o.port;
  bool ok = false;
  if (port == 0) {
    port = s.server.bind_to_any_port(o.host);
    ok = port > 0;
  } else {
    ok = s.server.bind_to_port(o.host, port);
  }
  if (!ok) {
    return Error(fmt::format("cannot listen on {}:{} (address in use, not an address of this host, or a port "
                             "below 1024 without the right to it)",
                             o.host, o.port),
                 ErrorKind::invalid_argument)
        .about("port");
  }
  // Debian's cpp-httplib is a shared library built with a listen backlog of 5: a burst of new
  // connections (64 clients, or a proxy filling its pool, at once) overflowed the accept queue,
  // and each connection dropped there waited for the client's SYN retransmit, a second or more
  // (the load test measured 6 of 64 at 1.02 s). Listening again on the bound socket raises the
  // backlog to the system's limit (net.core.somaxconn).
  if (s.listen_socket >= 0 && ::listen(s.listen_socket, SOMAXCONN) != 0) {
    return Error(fmt::format("cannot listen on {}:{} with a backlog of {}", o.host, port, SOMAXCONN),
                 ErrorKind::invalid_argument)
        .about("port");
  }
  return port;
}

Status HttpServer::run(const std::function<void()>& on_ready) {
  State& s = *state_;
  // Returns once the listening socket is shut (stop()) and every connection has ended.
  std::thread listener([&s] { s.server.listen_after_bind(); });
  // Answering /health (503) already while the models load.
  Status status = runtime::apply_thread_count(s.options.threads);
  if (status) {
    auto models = ModelRegistry::load(s.options, s.metrics);
    if (models) {
      s.models = std::move(*models);
      s.context.models.store(s.models.get());
      if (on_ready) on_ready();
    } else {
      status = models.error();
    }
  }
  if (!status) stop();
  listener.join();
  if (s.models) s.models->shutdown();
  return status;
}

// Not cpp-httplib's stop(): that marks the server as shutting down, and a streamed response
// then ends at its next chunk, cut short. Shutting the listening socket down instead refuses
// new connections at once and makes the accept loop end; cpp-httplib then waits for its
// connection threads, whose requests run to their end (the stream included). Responses from
// then on say "Connection: close", and a connection idle for the keep-alive timeout (5 s)
// closes. Also works before the accept loop runs: it ends at once.
void HttpServer::stop() {
  State& s = *state_;
  if (s.draining.exchange(true)) return;
  if (s.listen_socket >= 0) ::shutdown(s.listen_socket, SHUT_RDWR);
}

}  // namespace sparq::serve
