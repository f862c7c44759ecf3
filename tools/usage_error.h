// What `sparq` says about a command line it cannot parse: one `sparq: error:` line naming
// the unknown command or option and, when one is close, the name that was probably meant.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace sparq::tools {

// The message for `error`, thrown while `app` parsed `args` (argv without the program name).
std::string usage_error_message(const CLI::App& app, const std::vector<std::string>& args,
                                const CLI::ParseError& error);

}  // namespace sparq::tools
