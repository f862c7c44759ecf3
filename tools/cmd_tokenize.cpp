// sparq tokenize: placeholder while the command is being built (replaced by its owner).
#include "tools/command.h"

namespace sparq::tools {

Command add_tokenize_command(CLI::App& parent) {
  CLI::App* app = parent.add_subcommand("tokenize", "Tokenize text with the tokenizer of a model");
  return {app, [] { return Status(Error("sparq tokenize: not built yet", ExitCode::unsupported)); }};
}

}  // namespace sparq::tools
