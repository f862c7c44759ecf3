// sparq bench: placeholder while the command is being built (replaced by its owner).
#include "tools/command.h"

namespace sparq::tools {

Command add_bench_command(CLI::App& parent) {
  CLI::App* app = parent.add_subcommand("bench", "Benchmark a .sparq model");
  return {app, [] { return Status(Error("sparq bench: not built yet", ExitCode::unsupported)); }};
}

}  // namespace sparq::tools
