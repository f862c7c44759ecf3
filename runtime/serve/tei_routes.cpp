// Text Embeddings Inference's routes, with its field names and shapes (its docs/openapi.json):
//   POST /embed     {"inputs": str | [str], "normalize": true, "truncate": false} -> [[float]]
//   POST /predict   {"inputs": str | [str, str] (a pair) | [[str] | [str, str]], "raw_scores",
//                   "truncate"} -> [{"label", "score"}] (a batch: one list per input), all
//                   labels, most likely first
//   POST /tokenize  {"inputs": str | [str], "add_special_tokens": true}
//                   -> [[{"id", "text", "special", "start", "stop"}]] (no offsets: null)
//   GET  /health, /info, /metrics
// Errors: {"error", "error_type"}; 413 batch too large or text too long, 422 validation,
// 424 the model cannot do that, 429 overloaded.
#include <fmt/core.h>

#include <algorithm>
#include <numeric>

#include "kernels/numa_nodes.h"
#include "kernels/threading.h"
#include "runtime/jobs/class_probabilities.h"
#include "runtime/serve/encoder_requests.h"
#include "runtime/serve/encoder_route_requests.h"
#include "runtime/serve/routes.h"
#include "sparq_version.h"

namespace sparq::serve {
namespace {

using runtime::EncoderTask;

ApiError not_capable(std::string message) {
  return ApiError(424, "backend", std::move(message));
}

// The served encoder TEI's routes use (the first), or the error to answer.
EncoderService* default_encoder(ServerContext& ctx, httplib::Response& res) {
  EncoderService* e = ctx.models.load()->encoder();
  if (!e) send_error(res, ApiStyle::tei, not_capable("no encoder model is served (only decoders)"));
  return e;
}

void embed(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto parsed = parse_embed_request(req.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, ApiStyle::tei, *e);
  const EmbedRequest& asked = std::get<EmbedRequest>(parsed);
  EncoderService* service = default_encoder(ctx, res);
  if (!service) return;
  auto done = encode_texts(*service, EncoderTask::embed, asked.inputs.texts, {}, asked.truncate, ctx.options, "inputs");
  if (auto* e = std::get_if<ApiError>(&done)) return send_error(res, ApiStyle::tei, *e);
  std::string out = "[";
  // A model whose configuration normalises already gives unit vectors.
  const bool scale = asked.normalize && !service->model().config().normalize;
  for (runtime::DocumentOutput& o : std::get<EncodedTexts>(done).outputs) {
    if (scale) l2_normalize(o.values);
    if (out.size() > 1) out += ',';
    append_float_array(out, o.values);
  }
  send_json(res, 200, out + "]");
}

void predict(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto parsed = parse_predict_request(req.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, ApiStyle::tei, *e);
  const PredictRequest& inputs = std::get<PredictRequest>(parsed);
  EncoderService* service = default_encoder(ctx, res);
  if (!service) return;
  if (!service->can_classify()) {
    return send_error(res, ApiStyle::tei,
                      not_capable(fmt::format("model '{}' is an embedder (no classifier head): use /embed",
                                              service->name())));
  }
  auto done = encode_texts(*service, EncoderTask::classify, inputs.texts, inputs.pairs, inputs.truncate, ctx.options,
                           "inputs");
  if (auto* e = std::get_if<ApiError>(&done)) return send_error(res, ApiStyle::tei, *e);
  const std::vector<std::string> labels = service->model().labels();
  nlohmann::json out = nlohmann::json::array();
  std::vector<double> scores;
  std::vector<size_t> order;
  for (const runtime::DocumentOutput& o : std::get<EncodedTexts>(done).outputs) {
    scores.resize(o.values.size());
    if (inputs.raw_scores) {
      std::copy(o.values.begin(), o.values.end(), scores.begin());
    } else {
      runtime::class_probabilities(o.values, service->model().temperature(), scores);
    }
    order.resize(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    nlohmann::json predictions = nlohmann::json::array();
    for (size_t i : order) predictions.push_back({{"score", scores[i]}, {"label", labels[i]}});
    out.push_back(std::move(predictions));
  }
  send_json(res, 200, (inputs.batch ? out : out[0]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// The whole text's ids, as TEI's /tokenize gives them: not truncated.
Result<std::vector<int32_t>> token_ids(const runtime::Tokenizer& tok, const std::string& text, bool special) {
  if (!special) return tok.encode_ids(text);
  auto e = tok.encode(text, 0);
  if (!e) return e.error();
  return std::move(e->ids);
}

void tokenize(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto parsed = parse_tokenize_request(req.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, ApiStyle::tei, *e);
  const TextInputs& inputs = std::get<TokenizeRequest>(parsed).inputs;
  const bool special = std::get<TokenizeRequest>(parsed).add_special_tokens;
  EncoderService* service = default_encoder(ctx, res);
  if (!service) return;
  if (inputs.texts.size() > ctx.options.max_client_batch_size) {
    ApiError e = validation_error(fmt::format("batch size error: `inputs` holds {} texts, at most {} are allowed",
                                              inputs.texts.size(), ctx.options.max_client_batch_size),
                                  "inputs");
    e.status = 413;
    return send_error(res, ApiStyle::tei, e);
  }
  const runtime::Tokenizer& tok = service->tokenizer();
  nlohmann::json out = nlohmann::json::array();
  for (size_t i = 0; i < inputs.texts.size(); ++i) {
    Result<std::vector<int32_t>> ids = token_ids(tok, inputs.texts[i], special);
    if (!ids) {
      ApiError e = validation_error(fmt::format("`inputs[{}]`: {}", i, ids.error().message()), "inputs");
      e.type = "tokenizer";
      return send_error(res, ApiStyle::tei, e);
    }
    nlohmann::json tokens = nlohmann::json::array();
    for (int32_t id : *ids) {
      tokens.push_back({{"id", id}, {"text", tok.id_to_token(id)}, {"special", tok.is_special(id)},
                        {"start", nullptr}, {"stop", nullptr}});
    }
    out.push_back(std::move(tokens));
  }
  send_json(res, 200, out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

nlohmann::ordered_json info(ServerContext& ctx) {
  ModelRegistry& models = *ctx.models.load();
  nlohmann::ordered_json j;
  if (EncoderService* e = models.encoder()) {
    const runtime::EncoderModel& m = e->model();
    nlohmann::ordered_json type;
    if (e->can_classify()) {
      nlohmann::ordered_json id2label, label2id;
      const std::vector<std::string> labels = m.labels();
      for (size_t i = 0; i < labels.size(); ++i) {
        id2label[std::to_string(i)] = labels[i];
        label2id[labels[i]] = i;
      }
      type["classifier"] = {{"id2label", id2label}, {"label2id", label2id}};
    } else {
      type["embedding"] = {{"pooling", nlohmann::json(m.config().pooling)}};
    }
    j = {{"model_id", e->name()},
         {"model_sha", nullptr},
         {"model_dtype", "sparq"},
         {"model_type", type},
         {"max_concurrent_requests", ctx.options.max_queue},
         {"max_input_length", e->max_length()},
         {"max_batch_tokens", ctx.options.max_batch_tokens},
         {"max_batch_requests", nullptr},
         {"max_client_batch_size", ctx.options.max_client_batch_size},
         {"auto_truncate", false},
         {"tokenization_workers", nullptr},
         {"version", SPARQ_VERSION_STRING},
         {"sha", nullptr},
         {"docker_label", nullptr},
         {"isa", kernels::isa_name(m.isa())},
         {"kernels", m.describe_kernels()}};
  }
  j["models"] = models.names();
  nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
  for (const kernels::NumaNodeCpus& n : kernels::numa_nodes()) nodes.push_back({{"node", n.node}, {"cpus", n.cpu_list}});
  j["numa_nodes"] = nodes;
  j["numa_node"] = ctx.options.numa_node >= 0 ? nlohmann::json(ctx.options.numa_node) : nlohmann::json(nullptr);
  j["threads"] = kernels::num_threads();
  return j;
}

}  // namespace

void add_tei_routes(httplib::Server& server, ServerContext& ctx) {
  server.Get("/health", [&ctx](const httplib::Request&, httplib::Response& res) {
    if (!ctx.models.load()) return send_error(res, ApiStyle::tei, unavailable_error("the models are loading"));
    send_json(res, 200, "");
  });
  server.Get("/info", [&ctx](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200, info(ctx).dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  });
  server.Get("/metrics", [&ctx](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(ctx.metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Post("/embed", [&ctx](const httplib::Request& req, httplib::Response& res) { embed(ctx, req, res); });
  server.Post("/predict", [&ctx](const httplib::Request& req, httplib::Response& res) { predict(ctx, req, res); });
  server.Post("/tokenize", [&ctx](const httplib::Request& req, httplib::Response& res) { tokenize(ctx, req, res); });
}

}  // namespace sparq::serve
