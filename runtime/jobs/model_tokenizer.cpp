#include "runtime/jobs/model_tokenizer.h"

#include <fmt/core.h>

namespace sparq::runtime {

Result<std::shared_ptr<const Tokenizer>> tokenizer_from_metadata(const nlohmann::json& m, const std::string& path,
                                                                 uint64_t model_vocab) {
  auto tok = m.find("tokenizer");
  if (tok == m.end()) {
    return Error(fmt::format("{}: the model file carries no tokenizer (metadata.tokenizer); convert it from a "
                             "checkpoint with tokenizer.json or vocab.txt",
                             path),
                 ErrorKind::invalid_input);
  }
  if (!tok->is_object()) {
    return Error(fmt::format("{}: metadata.tokenizer: expected a tokenizer object, got {}", path, tok->type_name()),
                 ErrorKind::invalid_input);
  }
  Result<std::shared_ptr<const Tokenizer>> tokenizer = Tokenizer::from_json(*tok);
  if (!tokenizer) {
    return Error(fmt::format("{}: metadata.tokenizer: {}", path, tokenizer.error().message()), ErrorKind::invalid_input);
  }
  if ((*tokenizer)->vocab_size() > model_vocab) {
    return Error(fmt::format("{}: metadata.tokenizer: {} tokens, but the model's embedding table has {}", path,
                             (*tokenizer)->vocab_size(), model_vocab),
                 ErrorKind::invalid_input);
  }
  return tokenizer;
}

}  // namespace sparq::runtime
