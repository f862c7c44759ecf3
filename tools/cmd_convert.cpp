// sparq convert: placeholder while the command is being built (replaced by its owner).
#include "tools/command.h"

namespace sparq::tools {

Command add_convert_command(CLI::App& parent) {
  CLI::App* app = parent.add_subcommand("convert", "Convert a Hugging Face checkpoint into a .sparq file");
  return {app, [] { return Status(Error("sparq convert: not built yet", ExitCode::unsupported)); }};
}

}  // namespace sparq::tools
