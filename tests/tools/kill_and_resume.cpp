#include "kill_and_resume.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

namespace sparq::test {
namespace {

}  // namespace

uint64_t committed_records(const std::string& checkpoint) {
  nlohmann::json j = nlohmann::json::parse(read_file(checkpoint), nullptr, false);
  return j.is_object() ? j.value("records_written", uint64_t{0}) : 0;
}

CliResult kill_and_resume(const std::vector<std::string>& args, const std::string& output, int kills, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string checkpoint = output + ".partial.checkpoint", log = output + ".log";
  uint64_t last = 0;
  int killed = 0;
  for (int k = 0; k < kills; ++k) {
    pid_t pid = spawn_sparq(args, log);
    EXPECT_GT(pid, 0) << "cannot start sparq";
    if (pid <= 0) break;
    // Wait for progress past the last kill's (or the end of the job), then a little more.
    int status = 0;
    bool exited = false;
    for (;;) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        break;
      }
      if (std::filesystem::exists(checkpoint) && committed_records(checkpoint) > last) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (exited) break;  // finished before it could be killed: nothing left to interrupt
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 40)(rng)));
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0));
    if (WIFSIGNALED(status)) ++killed;
    if (std::filesystem::exists(checkpoint)) last = committed_records(checkpoint);
  }
  EXPECT_GE(killed, 2) << "the job finished before it could be interrupted twice; give it more documents";
  CliResult r = run_sparq(args);
  EXPECT_EQ(r.exit_code, 0) << r.err << read_file(log);
  return r;
}

}  // namespace sparq::test
