// sparq embed: placeholder while the command is being built (replaced by its owner).
#include "tools/command.h"

namespace sparq::tools {

Command add_embed_command(CLI::App& parent) {
  CLI::App* app = parent.add_subcommand("embed", "Embed documents with a .sparq model");
  return {app, [] { return Status(Error("sparq embed: not built yet", ExitCode::unsupported)); }};
}

}  // namespace sparq::tools
