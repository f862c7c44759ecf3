// Runs the real `sparq` executable (under qemu in the aarch64 cross build) and captures
// its exit code, stdout and stderr, for end-to-end CLI tests.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdlib>
#include <initializer_list>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

namespace sparq::test {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Arguments are passed without a shell; `stdin_text` is fed to standard input.
CliResult run_sparq(const std::vector<std::string>& args, const std::string& stdin_text = "");

// The same started in the background, stdin from /dev/null, stdout and stderr appended to
// `log`: its pid, or -1 when it could not be started.
pid_t spawn_sparq(const std::vector<std::string>& args, const std::string& log);

// Sets environment variables for the `sparq` processes a test starts, until destroyed.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::vector<std::pair<std::string, std::string>> vars) : vars_(std::move(vars)) {
    for (const auto& [k, v] : vars_) setenv(k.c_str(), v.c_str(), 1);
  }
  // ScopedEnv env{{"NAME", "value"}, ...}
  ScopedEnv(std::initializer_list<std::pair<std::string, std::string>> vars)
      : ScopedEnv(std::vector<std::pair<std::string, std::string>>(vars)) {}
  ~ScopedEnv() {
    for (const auto& [k, v] : vars_) unsetenv(k.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::vector<std::pair<std::string, std::string>> vars_;
};

// The whole file's bytes ("" when it cannot be read).
std::string read_file(const std::string& path);

// Writes `text` to `path` byte for byte.
void write_file(const std::string& path, const std::string& text);

// `text` split at newlines, without them (a final newline adds no empty line).
std::vector<std::string> split_lines(const std::string& text);

// Each line of JSON Lines output parsed.
std::vector<nlohmann::json> json_lines(const std::string& text);

// A fresh, empty directory under the build tree for one test process's files.
std::string temp_dir(const std::string& test_name);

// `n` scaled down fourfold in builds that run the CLI tens of times slower (under qemu, or with
// sanitizers: SPARQ_TESTS_SLOW_CLI), so that long end-to-end tests keep their shape but not their
// length there.
inline size_t scaled_for_build(size_t n) {
#if defined(SPARQ_TESTS_SLOW_CLI)
  return n / 4;
#else
  return std::string(SPARQ_CLI_EMULATOR).empty() ? n : n / 4;
#endif
}

// Labelled documents shipped with the tests (tests/data/README.md): a fixed subset of the
// Debian descriptions dev split, so that the tests need nothing beside the repository.
inline std::string dev_subset_path() {
  return std::string(SPARQ_SOURCE_DIR) + "/tests/data/debian-descriptions-dev-subset.jsonl";
}

// The shipped default model and its sample documents (models/README.md).
inline std::string default_model_path() {
  return std::string(SPARQ_SOURCE_DIR) + "/models/debian-sections-s90b4-q8.sparq";
}
inline std::string sample_docs_path() { return std::string(SPARQ_SOURCE_DIR) + "/models/sample-docs.jsonl"; }

// A committed encoder fixture checkpoint (tests/runtime/fixtures/encoders/NAME) converted by
// `sparq convert --from hf --weights WEIGHTS` into `dir`: the .sparq path.
std::string convert_encoder_fixture(const std::string& name, const std::string& dir, const std::string& weights = "f32");

// The shipped generator (models/debian-llama) converted with q8 weights, once per process.
const std::string& debian_llama_q8();

}  // namespace sparq::test
