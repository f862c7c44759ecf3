// Fuzzes a decoder's chat template (tokenizer_config.json's chat_template, untrusted like the
// rest of a model file): ChatTemplate::parse, then render over a small fixed conversation
// and, when the input carries one, over its own. Input: `template` or
// `template\0messages.json`. Every failure must be an Error: no crash, no hang (the step
// and output limits), no unbounded memory.
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/text/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view source = input.substr(0, nul);
  auto parsed = sparq::runtime::ChatTemplate::parse(source);
  if (!parsed.ok()) return 0;

  static const nlohmann::json kConversation = nlohmann::json::parse(
      R"([{"role": "system", "content": " Be brief. "}, {"role": "user", "content": "Hi \u00e9"},
          {"role": "assistant", "content": "Hello", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
          {"role": "tool", "content": {"ok": true}}, {"role": "user", "content": "Bye"}])");
  sparq::runtime::ChatTemplateContext context;
  context.bos_token = "<s>";
  context.eos_token = "</s>";
  context.now_unix_seconds = 1770109625;
  (void)parsed->render(kConversation, context);

  if (nul != std::string_view::npos) {
    const nlohmann::json own = nlohmann::json::parse(input.substr(nul + 1), nullptr, /*allow_exceptions=*/false);
    if (!own.is_discarded()) {
      context.add_generation_prompt = false;
      (void)parsed->render(own, context);
    }
  }
  return 0;
}
