// How a subcommand plugs into the CLI: each tools/cmd_*.cpp defines one add_*_command()
// that declares its options on a CLI11 subcommand and returns the function to run.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "formats/error.h"

namespace sparq::tools {

struct Command {
  CLI::App* app = nullptr;
  std::function<Status()> run;
};

// --json means the same on every command: `report` goes to stdout as one JSON document
// instead of the human-readable text; anything else the command says goes to stderr.
inline CLI::Option* add_json_flag(CLI::App* app, bool* json, const std::string& report) {
  return app->add_flag("--json", *json, "Print " + report + " on stdout as one JSON document instead of text");
}

Command add_bench_command(CLI::App& parent);
Command add_classify_command(CLI::App& parent);
Command add_convert_command(CLI::App& parent);
Command add_embed_command(CLI::App& parent);
Command add_eval_command(CLI::App& parent);
Command add_generate_command(CLI::App& parent);
Command add_hwinfo_command(CLI::App& parent);
Command add_inspect_command(CLI::App& parent);
Command add_merge_command(CLI::App& parent);
Command add_plan_command(CLI::App& parent);
Command add_sensitivity_command(CLI::App& parent);
Command add_serve_command(CLI::App& parent);
Command add_synth_command(CLI::App& parent);
Command add_tokenize_command(CLI::App& parent);

}  // namespace sparq::tools
