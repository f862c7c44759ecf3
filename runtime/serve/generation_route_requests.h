// What a body sent to a decoder route asks for, checked field by field without a model: a
// pure function from the request body to a validated request (or the error to answer), with
// each API's defaults, so that the route only executes and the parsing is fuzzed on its own
// (tests/fuzz/serve_request_fuzz.cpp). What needs the model (tokenising the prompt, rendering
// the chat template, the context's room) is the route's.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runtime/model/sampler.h"
#include "runtime/serve/api_error.h"

namespace sparq::serve {

// OpenAI's POST /v1/completions and /v1/chat/completions, llama-server's POST /completion.
enum class GenerationRoute { completions, chat, llama };

struct GenerationAsk {
  std::string model;        // empty: the first decoder (llama-server names none)
  std::string prompt;       // completions, llama
  nlohmann::json messages;  // chat: a non-empty array of objects with a string "role"
  // Sampling as asked; seed is set only when `random_seed` is false.
  runtime::SamplingOptions sampling;
  bool random_seed = false;  // no seed (OpenAI) or -1 (llama-server): the route draws one
  size_t max_tokens = 0;     // 0: to the end of the context
  std::vector<std::string> stop;
  bool ignore_eos = false;
  bool stream = false, include_usage = false, logprobs = false;
};

std::variant<GenerationAsk, ApiError> parse_generation_request(GenerationRoute route, std::string_view body);

}  // namespace sparq::serve
