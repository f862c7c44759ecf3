// Batch jobs interrupted the hard way, for the crash-resume tests of every batch command: the
// real `sparq` process killed with SIGKILL mid-job, again and again, then run to the end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli_runner.h"

namespace sparq::test {

// "records_written" of the checkpoint file at `path`; 0 when there is none (yet) or it is
// not a JSON object.
uint64_t committed_records(const std::string& checkpoint);

// Runs `args` (writing `output`) again and again, each time SIGKILLed at a random moment
// after its checkpoint moved past the previous run's, so every kill lands mid-job with the
// previous partial resumed; then lets one run finish. Returns that run's result. Expects at
// least two kills to have landed.
CliResult kill_and_resume(const std::vector<std::string>& args, const std::string& output, int kills, uint32_t seed);

}  // namespace sparq::test
