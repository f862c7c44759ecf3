// Runs the real `sparq` executable (under qemu in the aarch64 cross build) and captures
// its exit code, stdout and stderr, for end-to-end CLI tests.
#pragma once

#include <string>
#include <vector>

namespace sparq::test {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Arguments are passed without a shell; `stdin_text` is fed to standard input.
CliResult run_sparq(const std::vector<std::string>& args, const std::string& stdin_text = "");

// A fresh, empty directory under the build tree for one test process's files.
std::string temp_dir(const std::string& test_name);

}  // namespace sparq::test
