// Chat templates: the Jinja `chat_template` of a decoder's tokenizer_config.json turned into
// the prompt text, byte for byte as @huggingface/jinja (what transformers.js's
// apply_chat_template uses) renders it. A Jinja subset: text, {{ }}, {% %}, {# #}, whitespace
// control ({%- -%}) with trim_blocks and lstrip_blocks on (as transformers sets them),
// if/elif/else, for (with loop.*, tuple unpacking), set (incl. namespace() attributes),
// literals, subscripts and slices, attributes, calls, filters, tests, string methods.
//
// Templates come from model files, so they are untrusted: parse() refuses nesting deeper
// than kMaxChatTemplateDepth and render() stops (with an error) after
// kMaxChatTemplateOutputBytes of output or kMaxChatTemplateSteps evaluation steps.
// A ChatTemplate is immutable after parse() and safe to render from many threads.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "formats/error.h"

namespace sparq::runtime {

inline constexpr size_t kMaxChatTemplateDepth = 64;
inline constexpr size_t kMaxChatTemplateOutputBytes = size_t{16} << 20;
inline constexpr uint64_t kMaxChatTemplateSteps = 4'000'000;

struct ChatTemplateContext {
  bool add_generation_prompt = true;
  std::string bos_token, eos_token;
  // Further template variables (tools, date_string, custom keys); they override the above.
  nlohmann::json extra = nlohmann::json::object();
  // What strftime_now() formats, in seconds since the epoch, read in the local time zone
  // as @huggingface/jinja does; negative: the current time. Tests fix it.
  int64_t now_unix_seconds = -1;
};

namespace chat_template_detail {
struct Program;
}

class ChatTemplate {
 public:
  // Syntax errors read "line L, column C: ..." (1-based, in the source as given).
  static Result<ChatTemplate> parse(std::string_view source);
  // `messages`: an array of {"role": ..., "content": ...} objects (any JSON, as the template
  // reads it). Errors, including a template's raise_exception("..."), name the line and
  // column of the expression that failed.
  Result<std::string> render(const nlohmann::json& messages, const ChatTemplateContext& context) const;

 private:
  std::shared_ptr<const chat_template_detail::Program> program_;
};

}  // namespace sparq::runtime
