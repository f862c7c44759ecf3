// What every route handler shares, and the functions that add each API's routes to the
// cpp-httplib server (one file per API).
#pragma once

#include <httplib.h>

#include <atomic>
#include <string>

#include "runtime/serve/api_error.h"
#include "runtime/serve/metrics.h"
#include "runtime/serve/model_registry.h"
#include "runtime/serve/serve_options.h"

namespace sparq::serve {

struct ServerContext {
  const ServeOptions& options;
  Metrics& metrics;
  // Set, and never reset, once every model is loaded; routes run only after that.
  std::atomic<ModelRegistry*> models{nullptr};
};

void send_json(httplib::Response& res, int status, std::string body);
void send_error(httplib::Response& res, ApiStyle style, const ApiError& e);

void add_tei_routes(httplib::Server& server, ServerContext& context);
void add_openai_routes(httplib::Server& server, ServerContext& context);
void add_generation_routes(httplib::Server& server, ServerContext& context);

}  // namespace sparq::serve
