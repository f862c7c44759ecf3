// TEMPORARY placeholder while the real command is being written in parallel.
#include "tools/command.h"
namespace sparq::tools {
Command add_hwinfo_command(CLI::App& parent) {
  Command c;
  c.app = parent.add_subcommand("hwinfo", "(in progress)");
  c.run = [] { return Status(Error("not implemented yet")); };
  return c;
}
}  // namespace sparq::tools
