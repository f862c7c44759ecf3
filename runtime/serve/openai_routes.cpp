// OpenAI's routes, with its field names and shapes (platform.openai.com/docs/api-reference):
//   POST /v1/embeddings  {"input": str | [str], "model", "encoding_format": "float" | "base64",
//                        "dimensions", "user"} -> {"object": "list", "data": [{"object":
//                        "embedding", "index", "embedding"}], "model", "usage"}
//   GET  /v1/models      {"object": "list", "data": [{"id", "object": "model", "created",
//                        "owned_by"}]}
// Errors: {"error": {"message", "type", "param", "code"}}.
#include <fmt/core.h>

#include <cstring>

#include "runtime/serve/encoder_requests.h"
#include "runtime/serve/encoder_route_requests.h"
#include "runtime/serve/routes.h"

namespace sparq::serve {
namespace {

using runtime::EncoderTask;

// RFC 4648 base64 of the float32 values' little-endian bytes: what OpenAI's clients decode
// (the official Node client asks for it by default).
std::string base64_floats(const std::vector<float>& v) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static_assert(std::endian::native == std::endian::little, "float bytes are sent little-endian");
  std::string bytes(v.size() * sizeof(float), '\0');
  std::memcpy(bytes.data(), v.data(), bytes.size());
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t chunk = 0;
    for (size_t k = 0; k < 3; ++k) chunk = (chunk << 8) | (k < n ? uint8_t(bytes[i + k]) : 0);
    for (size_t k = 0; k < 4; ++k) out += k <= n ? kAlphabet[(chunk >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

// The encoder a request's "model" names (the first when it names none), or the error.
EncoderService* requested_encoder(ServerContext& ctx, const std::string& model, httplib::Response& res) {
  ModelRegistry& models = *ctx.models.load();
  if (EncoderService* e = models.encoder(model)) return e;
  const auto names = models.names();
  const bool known = std::find(names.begin(), names.end(), model) != names.end();
  ApiError e(known ? 400 : 404, "validation",
             known           ? fmt::format("model '{}' is not an encoder: it cannot embed", model)
             : model.empty() ? std::string("no encoder model is served")
                             : fmt::format("the model '{}' does not exist", model),
             "model");
  send_error(res, ApiStyle::openai, e);
  return nullptr;
}

void embeddings(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto parsed = parse_embeddings_request(req.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, ApiStyle::openai, *e);
  const EmbeddingsRequest& asked = std::get<EmbeddingsRequest>(parsed);
  EncoderService* service = requested_encoder(ctx, asked.model, res);
  if (!service) return;
  const size_t dim = service->model().embedding_dim();
  if (asked.dimensions && *asked.dimensions != dim) {
    return send_error(res, ApiStyle::openai,
                      validation_error(fmt::format("`dimensions`: model '{}' embeds in {} dimensions only",
                                                   service->name(), dim),
                                       "dimensions"));
  }
  auto done = encode_texts(*service, EncoderTask::embed, asked.input.texts, {}, false, ctx.options, "input");
  if (auto* e = std::get_if<ApiError>(&done)) return send_error(res, ApiStyle::openai, *e);
  EncodedTexts& encoded = std::get<EncodedTexts>(done);
  // OpenAI's embeddings are unit vectors, and so are TEI's on this route.
  const bool scale = !service->model().config().normalize;
  std::string out = "{\"object\":\"list\",\"data\":[";
  for (size_t i = 0; i < encoded.outputs.size(); ++i) {
    std::vector<float>& v = encoded.outputs[i].values;
    if (scale) l2_normalize(v);
    out += fmt::format("{}{{\"object\":\"embedding\",\"index\":{},\"embedding\":", i ? "," : "", i);
    if (asked.base64) {
      out += '"' + base64_floats(v) + '"';
    } else {
      append_float_array(out, v);
    }
    out += '}';
  }
  out += fmt::format("],\"model\":{},\"usage\":{{\"prompt_tokens\":{},\"total_tokens\":{}}}}}",
                     nlohmann::json(service->name()).dump(), encoded.tokens, encoded.tokens);
  send_json(res, 200, std::move(out));
}

void models(ServerContext& ctx, httplib::Response& res) {
  nlohmann::ordered_json data = nlohmann::ordered_json::array();
  for (const std::string& name : ctx.models.load()->names()) {
    data.push_back({{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "sparq"}});
  }
  send_json(res, 200, nlohmann::ordered_json{{"object", "list"}, {"data", data}}.dump());
}

}  // namespace

void add_openai_routes(httplib::Server& server, ServerContext& ctx) {
  server.Post("/v1/embeddings",
              [&ctx](const httplib::Request& req, httplib::Response& res) { embeddings(ctx, req, res); });
  server.Get("/v1/models", [&ctx](const httplib::Request&, httplib::Response& res) { models(ctx, res); });
}

}  // namespace sparq::serve
