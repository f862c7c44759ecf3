// The `sparq` CLI's documented exit codes (README, `sparq --help`), and how the library's
// error kinds map onto them.
#pragma once

#include "formats/error.h"

namespace sparq::tools {

enum class ExitCode : int {
  ok = 0,
  usage = 1,       // bad command line
  data = 2,        // unreadable or invalid input: model file, documents, configuration
  floor = 3,       // a quality or throughput floor was not cleared
  unsupported = 4  // the request is valid but this CPU/OS/build cannot serve it
};

constexpr ExitCode exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_argument: return ExitCode::usage;
    case ErrorKind::unsupported: return ExitCode::unsupported;
    case ErrorKind::below_floor: return ExitCode::floor;
    case ErrorKind::invalid_input: break;
  }
  return ExitCode::data;
}

}  // namespace sparq::tools
