#include "cli_runner.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

extern char** environ;

namespace sparq::test {
namespace {

std::vector<std::string> split_emulator(const std::string& s) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : s) {
    if (c == '|') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

// Starts `sparq args...` (under the cross build's emulator) with stdin, stdout and stderr
// opened from `in`, `out` and `err` (`append`: added to, else truncated): its pid, or -1.
pid_t start_sparq(const std::vector<std::string>& args, const std::string& in, const std::string& out,
                  const std::string& err, bool append) {
  std::vector<std::string> argv_s = split_emulator(SPARQ_CLI_EMULATOR);
  argv_s.push_back(SPARQ_CLI);
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int mode = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), mode, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), mode, 0644);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

}  // namespace

std::string temp_dir(const std::string& test_name) {
  const char* root = std::getenv("SPARQ_TEST_TMP");
  // ctest runs tests in parallel, each in its own process: the pid keeps two tests that
  // use the same name from deleting each other's files.
  std::filesystem::path dir = std::filesystem::path(root ? root : SPARQ_TEST_TMP) /
                              (test_name + "." + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (const std::string& line : split_lines(text)) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::string convert_encoder_fixture(const std::string& name, const std::string& dir, const std::string& weights) {
  const std::string out = dir + "/" + name + "-" + weights + ".sparq";
  CliResult r = run_sparq({"convert", "--from", "hf", std::string(SPARQ_SOURCE_DIR) + "/tests/runtime/fixtures/encoders/" + name,
                           "-o", out, "--weights", weights});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

const std::string& debian_llama_q8() {
  static const std::string path = [] {
    const std::string p = temp_dir("debian_llama_q8") + "/debian-llama-q8.sparq";
    CliResult r = run_sparq({"convert", "--from", "hf", std::string(SPARQ_SOURCE_DIR) + "/models/debian-llama", "-o", p,
                             "--weights", "q8", "-q"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return p;
  }();
  return path;
}

CliResult run_sparq(const std::vector<std::string>& args, const std::string& stdin_text) {
  std::string dir = temp_dir("cli_io");
  std::string in_path = dir + "/stdin", out_path = dir + "/stdout", err_path = dir + "/stderr";
  std::ofstream(in_path, std::ios::binary) << stdin_text;
  const pid_t pid = start_sparq(args, in_path, out_path, err_path, false);
  if (pid < 0) throw std::runtime_error(std::string("cannot start ") + SPARQ_CLI);
  int status = 0;
  waitpid(pid, &status, 0);

  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  std::filesystem::remove_all(dir);
  return r;
}

pid_t spawn_sparq(const std::vector<std::string>& args, const std::string& log) {
  return start_sparq(args, "/dev/null", log, log, true);
}

}  // namespace sparq::test
