// sparq: run pruned and quantized transformer models on CPUs, and plan their deployment.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <exception>
#include <vector>

#include "sparq_version.h"
#include "tools/command.h"

namespace {

constexpr const char* kExitCodes =
    "Exit codes: 0 ok; 1 usage error; 2 invalid or unreadable input (model, documents, "
    "configuration); 3 a quality or throughput floor was not cleared; 4 not supported on "
    "this CPU/OS/build.";

int report(const sparq::Error& e) {
  std::fflush(stdout);
  fmt::print(stderr, "sparq: error: {}\n", e.message());
  return static_cast<int>(e.code());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sparq " SPARQ_VERSION_STRING
               " - run pruned and quantized transformer models fast on CPUs, measure them, "
               "and plan CPU/GPU/NPU deployment.",
               "sparq"};
  app.footer(kExitCodes);
  app.set_version_flag("--version", "sparq " SPARQ_VERSION_STRING);
  app.require_subcommand(1);

  std::vector<sparq::tools::Command> commands = {
      sparq::tools::add_convert_command(app),
      sparq::tools::add_classify_command(app),
      sparq::tools::add_embed_command(app),
      sparq::tools::add_eval_command(app),
      sparq::tools::add_bench_command(app),
      sparq::tools::add_tokenize_command(app),
      sparq::tools::add_hwinfo_command(app),
      sparq::tools::add_inspect_command(app),
      sparq::tools::add_plan_command(app),
      sparq::tools::add_synth_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0 in CLI11.
    int code = app.exit(e);
    return code == 0 ? 0 : static_cast<int>(sparq::ExitCode::usage);
  }

  for (auto& command : commands) {
    if (!command.app->parsed()) continue;
    try {
      sparq::Status status = command.run();
      return status.ok() ? 0 : report(status.error());
    } catch (const std::bad_alloc&) {
      return report(sparq::Error("out of memory"));
    } catch (const std::exception& e) {
      return report(sparq::Error(fmt::format("internal error: {}", e.what()), sparq::ExitCode::data));
    }
  }
  return static_cast<int>(sparq::ExitCode::usage);
}
