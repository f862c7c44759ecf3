#include "runtime/serve/encoder_route_requests.h"

#include <fmt/core.h>

#include <algorithm>

namespace sparq::serve {
namespace {

std::optional<ApiError> read_predict_inputs(const nlohmann::json& body, PredictRequest& out) {
  auto it = body.find("inputs");
  if (it == body.end() || it->is_null()) return validation_error("`inputs` is missing", "inputs");
  const nlohmann::json& v = *it;
  if (v.is_string()) {
    out.texts.push_back(v.get<std::string>());
    return std::nullopt;
  }
  const auto is_strings = [](const nlohmann::json& a) {
    return a.is_array() && std::all_of(a.begin(), a.end(), [](const nlohmann::json& s) { return s.is_string(); });
  };
  if (is_strings(v) && v.size() == 2) {  // one pair
    out.texts.push_back(v[0].get<std::string>());
    out.pairs.push_back(v[1].get<std::string>());
    return std::nullopt;
  }
  const ApiError shape = validation_error(
      "`inputs`: expected a string, a pair of strings, or a batch of one- and two-string arrays ([[\"a\"], "
      "[\"b\", \"c\"]])",
      "inputs");
  if (!v.is_array() || v.empty()) return shape;
  out.batch = true;
  const bool any_pair = std::any_of(v.begin(), v.end(), [](const nlohmann::json& i) { return i.size() == 2; });
  for (const nlohmann::json& item : v) {
    if (!is_strings(item) || item.empty() || item.size() > 2) return shape;
    out.texts.push_back(item[0].get<std::string>());
    if (any_pair && item.size() == 1) {
      return validation_error("`inputs`: a batch mixes single texts and pairs; send them in separate requests",
                              "inputs");
    }
    if (item.size() == 2) out.pairs.push_back(item[1].get<std::string>());
  }
  return std::nullopt;
}

}  // namespace

std::variant<EmbedRequest, ApiError> parse_embed_request(std::string_view text) {
  nlohmann::json body;
  if (auto e = parse_json_body(text, body)) return *e;
  FieldReader r(body);
  EmbedRequest out;
  out.inputs = r.texts("inputs");
  out.normalize = r.boolean("normalize", true);
  out.truncate = r.boolean("truncate", false);
  if (r.string("truncation_direction", "right") != "right" && !r.failed()) {
    r.fail(validation_error("`truncation_direction`: only \"right\" is supported", "truncation_direction"));
  }
  if (r.has("prompt_name") && !r.failed()) {
    r.fail(validation_error("`prompt_name`: this model has no prompts", "prompt_name"));
  }
  if (r.failed()) return r.error();
  return out;
}

std::variant<PredictRequest, ApiError> parse_predict_request(std::string_view text) {
  nlohmann::json body;
  if (auto e = parse_json_body(text, body)) return *e;
  PredictRequest out;
  if (auto e = read_predict_inputs(body, out)) return *e;
  FieldReader r(body);
  out.raw_scores = r.boolean("raw_scores", false);
  out.truncate = r.boolean("truncate", false);
  if (r.failed()) return r.error();
  return out;
}

std::variant<TokenizeRequest, ApiError> parse_tokenize_request(std::string_view text) {
  nlohmann::json body;
  if (auto e = parse_json_body(text, body)) return *e;
  FieldReader r(body);
  TokenizeRequest out;
  out.inputs = r.texts("inputs");
  out.add_special_tokens = r.boolean("add_special_tokens", true);
  if (r.failed()) return r.error();
  return out;
}

std::variant<EmbeddingsRequest, ApiError> parse_embeddings_request(std::string_view text) {
  nlohmann::json body;
  if (auto e = parse_json_body(text, body)) return *e;
  FieldReader r(body);
  EmbeddingsRequest out;
  out.input = r.texts("input");
  out.model = r.string("model");
  const std::string format = r.string("encoding_format", "float");
  (void)r.string("user");
  if (!r.failed() && format != "float" && format != "base64") {
    r.fail(validation_error(fmt::format("`encoding_format`: expected \"float\" or \"base64\", got \"{}\"", format),
                            "encoding_format"));
  }
  out.base64 = format == "base64";
  if (r.has("dimensions")) out.dimensions = r.integer("dimensions", 0, 1, uint64_t{1} << 30);
  if (r.failed()) return r.error();
  return out;
}

}  // namespace sparq::serve
