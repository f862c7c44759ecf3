// Fuzzes what `sparq serve` makes of a request body before any model sees it: the JSON body
// parse and each route kind's field validation (runtime/serve/encoder_route_requests.h,
// generation_route_requests.h), pure functions from body to validated request or the error to
// answer. The first input byte picks the route (mod 7): TEI /embed, /predict, /tokenize,
// OpenAI /v1/embeddings, /v1/completions, /v1/chat/completions, llama-server /completion; the
// rest is the body. Besides not crashing, an accepted request must hold what the routes rely on.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "runtime/serve/encoder_route_requests.h"
#include "runtime/serve/generation_route_requests.h"

namespace {

using namespace sparq::serve;

void require(bool invariant) {
  if (!invariant) std::abort();
}

// An error names a status of its own kind and renders in every API's shape.
void check(const ApiError& e) {
  require(e.status >= 400 && e.status < 500 && !e.message.empty());
  for (ApiStyle style : {ApiStyle::tei, ApiStyle::openai, ApiStyle::llama}) require(!error_body(style, e).empty());
}

void check(const TextInputs& t) { require(!t.texts.empty() && (!t.single || t.texts.size() == 1)); }

template <class Request, class Check>
void run(const std::variant<Request, ApiError>& parsed, Check&& check_request) {
  if (const auto* e = std::get_if<ApiError>(&parsed)) return check(*e);
  check_request(std::get<Request>(parsed));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto generation = [](const GenerationAsk& a) {
    require(sparq::runtime::validate(a.sampling).ok());
    for (const std::string& stop : a.stop) require(!stop.empty());
  };
  switch (data[0] % 7) {
    case 0: run(parse_embed_request(body), [](const EmbedRequest& r) { check(r.inputs); }); break;
    case 1:
      run(parse_predict_request(body), [](const PredictRequest& r) {
        require(!r.texts.empty() && (r.pairs.empty() || r.pairs.size() == r.texts.size()));
        require(r.batch || r.texts.size() == 1);
      });
      break;
    case 2: run(parse_tokenize_request(body), [](const TokenizeRequest& r) { check(r.inputs); }); break;
    case 3:
      run(parse_embeddings_request(body), [](const EmbeddingsRequest& r) {
        check(r.input);
        require(!r.dimensions || *r.dimensions >= 1);
      });
      break;
    case 4:
      run(parse_generation_request(GenerationRoute::completions, body), [&](const GenerationAsk& a) {
        generation(a);
        require(a.max_tokens >= 1 && a.stop.size() <= 4);
      });
      break;
    case 5:
      run(parse_generation_request(GenerationRoute::chat, body), [&](const GenerationAsk& a) {
        generation(a);
        require(a.messages.is_array() && !a.messages.empty());
        for (const auto& m : a.messages) require(m.is_object() && m.at("role").is_string());
      });
      break;
    case 6: run(parse_generation_request(GenerationRoute::llama, body), generation); break;
  }
  return 0;
}
