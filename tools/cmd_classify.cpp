// sparq classify: placeholder while the command is being built (replaced by its owner).
#include "tools/command.h"

namespace sparq::tools {

Command add_classify_command(CLI::App& parent) {
  CLI::App* app = parent.add_subcommand("classify", "Classify documents with a .sparq model");
  return {app, [] { return Status(Error("sparq classify: not built yet", ExitCode::unsupported)); }};
}

}  // namespace sparq::tools
