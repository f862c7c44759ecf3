#include "runtime/serve/encoder_requests.h"

#include <fmt/format.h>

#include <cmath>
#include <iterator>

#include "runtime/jobs/document_reader.h"

namespace sparq::serve {

std::variant<EncodedTexts, ApiError> encode_texts(EncoderService& service, runtime::EncoderTask task,
                                                  const std::vector<std::string>& texts,
                                                  const std::vector<std::string>& pairs, bool truncate,
                                                  const ServeOptions& options, std::string_view field) {
  if (texts.size() > options.max_client_batch_size) {
    ApiError e = validation_error(fmt::format("batch size error: `{}` holds {} texts, at most {} are allowed "
                                              "(--max-client-batch-size)",
                                              field, texts.size(), options.max_client_batch_size),
                                  std::string(field));
    e.status = 413;
    return e;
  }
  std::vector<runtime::Encoding> encodings;
  encodings.reserve(texts.size());
  EncodedTexts out;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string where = texts.size() == 1 && pairs.empty() ? std::string(field) : fmt::format("{}[{}]", field, i);
    for (const std::string* t : {&texts[i], pairs.empty() ? nullptr : &pairs[i]}) {
      if (!t) continue;
      if (auto bad = runtime::check_document_text(*t, options.max_request_bytes)) {
        return validation_error(fmt::format("`{}`: {}", where, bad->message), std::string(field));
      }
    }
    Result<runtime::Encoding> e = pairs.empty() ? service.encode(texts[i]) : service.encode_pair(texts[i], pairs[i]);
    if (!e) {
      ApiError err = validation_error(fmt::format("`{}`: {}", where, e.error().message()), std::string(field));
      err.type = "tokenizer";
      return err;
    }
    if (e->truncated_tokens > 0 && !truncate) {
      ApiError err = validation_error(
          fmt::format("`{}` has {} tokens; the model takes at most {} (set \"truncate\": true to cut it)", where,
                      e->ids.size() + e->truncated_tokens, service.max_length()),
          std::string(field));
      err.status = 413;
      return err;
    }
    out.tokens += e->ids.size();
    encodings.push_back(std::move(*e));
  }
  const Clock::time_point deadline = options.timeout_ms == 0
                                         ? Clock::time_point::max()
                                         : Clock::now() + std::chrono::milliseconds(options.timeout_ms);
  auto queued = service.submit(task, std::move(encodings), deadline);
  if (!queued) {
    return overloaded_error(fmt::format("model '{}' is overloaded: {} requests are waiting (--max-queue); retry later",
                                        service.name(), options.max_queue));
  }
  EncodeOutcome outcome = queued->get();
  switch (outcome.state) {
    case EncodeOutcome::State::ok: break;
    case EncodeOutcome::State::timed_out: {
      ApiError e = unavailable_error(fmt::format("{} (--timeout-ms {})", outcome.message, options.timeout_ms));
      e.type = "overloaded";
      return e;
    }
    case EncodeOutcome::State::failed: return backend_error(outcome.message);
  }
  for (size_t i = 0; i < outcome.outputs.size(); ++i) {
    if (outcome.outputs[i].error) {
      return backend_error(fmt::format("`{}[{}]`: {}", field, i, outcome.outputs[i].error->message));
    }
  }
  out.outputs = std::move(outcome.outputs);
  return out;
}

void l2_normalize(std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += double(x) * double(x);
  if (sum == 0) return;
  const double scale = 1.0 / std::sqrt(sum);
  for (float& x : v) x = float(double(x) * scale);
}

void append_float_array(std::string& out, const std::vector<float>& v) {
  out += fmt::format("[{}]", fmt::join(v, ","));
}

}  // namespace sparq::serve
