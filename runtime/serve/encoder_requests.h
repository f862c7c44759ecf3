// The path every encoder route's texts take: checked as `sparq classify` checks a document
// (UTF-8, not blank, not too long), tokenised on the request's own thread, refused when over
// the model's length unless truncation was asked for, queued for the model's next forward,
// waited for.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runtime/jobs/encoder_pipeline.h"
#include "runtime/serve/api_error.h"
#include "runtime/serve/encoder_service.h"
#include "runtime/serve/serve_options.h"

namespace sparq::serve {

struct EncodedTexts {
  std::vector<runtime::DocumentOutput> outputs;  // one per text, in order
  size_t tokens = 0;                             // tokens the model saw, for usage reports
};

// texts[i] (with pairs[i] as its second text when `pairs` is not empty) through `service`.
// `field` names the request field the texts came from, in error messages.
std::variant<EncodedTexts, ApiError> encode_texts(EncoderService& service, runtime::EncoderTask task,
                                                  const std::vector<std::string>& texts,
                                                  const std::vector<std::string>& pairs, bool truncate,
                                                  const ServeOptions& options, std::string_view field);

// `v` scaled to unit L2 norm (summed in double); left alone when it is all zeros.
void l2_normalize(std::vector<float>& v);

// [a,b,...] with each float as the shortest text that reads back as the same float, as
// `sparq embed` writes them.
void append_float_array(std::string& out, const std::vector<float>& v);

}  // namespace sparq::serve
