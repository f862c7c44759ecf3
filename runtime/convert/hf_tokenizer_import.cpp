#include "runtime/convert/hf_tokenizer_import.h"

#include <fmt/core.h>

#include "formats/input_file.h"
#include "runtime/convert/hf_files.h"
#include "runtime/text/tokenizer.h"

namespace sparq::runtime::hf {
namespace {

using nlohmann::json;

// The tokenizer.json object (copied, or built from vocab.txt) and the files it came from.
Result<json> load_tokenizer(const Checkpoint& m, std::vector<std::string>* files, json* tokenizer_config) {
  std::vector<std::string> dirs = {m.model_dir};
  if (m.root != m.model_dir) dirs.push_back(m.root);
  for (const std::string& dir : dirs) {
    const std::string config_file = join_path(dir, "tokenizer_config.json");
    if (entry_exists(config_file)) {
      auto c = formats::load_json_file(config_file);
      if (!c) return c.error();
      if (!c->is_object()) return Error(fmt::format("{}: expected a JSON object", config_file));
      *tokenizer_config = *c;
      files->push_back(config_file);
    }
    const std::string tok_file = join_path(dir, "tokenizer.json");
    if (entry_exists(tok_file)) {
      auto t = formats::load_json_file(tok_file);
      if (!t) return t.error();
      if (!t->is_object() || !t->contains("model")) {
        return Error(fmt::format("{}: expected a tokenizer.json object with a \"model\"", tok_file));
      }
      files->push_back(tok_file);
      return t;
    }
    const std::string vocab_file = join_path(dir, "vocab.txt");
    if (entry_exists(vocab_file)) {
      auto t = Tokenizer::json_from_wordpiece_vocab(vocab_file, *tokenizer_config);
      if (!t) return t.error();
      files->push_back(vocab_file);
      return t;
    }
    if (!tokenizer_config->is_null()) break;  // the config belongs with the tokenizer beside it
  }
  return Error(fmt::format("{}: no tokenizer: neither tokenizer.json nor vocab.txt is there", m.model_dir));
}

}  // namespace

Result<TokenizerImport> import_tokenizer(const Checkpoint& m) {
  TokenizerImport out;
  json tokenizer_config;
  auto tokenizer = load_tokenizer(m, &out.files_read, &tokenizer_config);
  if (!tokenizer) return tokenizer.error();
  out.tokenizer_config = tokenizer_config;
  if (m.family == Family::llama) {
    // A decoder's tokenizer is checked with the rest of the model (decoder_import.h), where a
    // kind this build does not run yet is a note rather than an error.
    out.tokenizer = std::move(*tokenizer);
    out.max_tokens = m.llama.max_positions;
    return out;
  }
  // Built here exactly as classify and embed build it, so that a tokenizer they would refuse
  // is refused now, naming its file, and never written into a .sparq.
  auto built = Tokenizer::from_json(*tokenizer);
  if (!built) return Error(fmt::format("{}: {}", out.files_read.back(), built.error().message()), ErrorKind::invalid_input);
  if (size_t ids = (*built)->vocab_size(); ids > m.config.vocab_size) {
    return Error(fmt::format("{}: the tokenizer produces ids up to {} but {} vocab_size is {}", out.files_read.back(),
                             ids - 1, m.config_file, m.config.vocab_size));
  }
  out.tokenizer = std::move(*tokenizer);
  const uint64_t positions = m.config.max_positions - m.config.position_offset;
  out.max_tokens = positions;
  auto sane = [&](uint64_t n) { return n >= 2 && n <= positions; };
  if (m.st_max_seq_length && sane(*m.st_max_seq_length)) {
    out.max_tokens = *m.st_max_seq_length;
  } else if (tokenizer_config.is_object() && tokenizer_config.contains("model_max_length") &&
             tokenizer_config["model_max_length"].is_number_unsigned() &&
             sane(tokenizer_config["model_max_length"].get<uint64_t>())) {
    out.max_tokens = tokenizer_config["model_max_length"].get<uint64_t>();
  }
  return out;
}

}  // namespace sparq::runtime::hf
