// `sparq serve` runs its OpenMP threads with OMP_WAIT_POLICY=passive unless the user chose a
// wait policy: the process re-executes itself with the setting, so it shows in the kernel's
// copy of the server's environment.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli_runner.h"
#include "serve_process.h"

namespace {

using sparq::test::default_model_path;
using sparq::test::ScopedEnv;
using sparq::test::ServeProcess;
using sparq::test::temp_dir;

// NAME's value in a running process's environment, as /proc holds it.
std::optional<std::string> environment_value(pid_t pid, const std::string& name) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const std::string key = name + "=";
  for (size_t start = 0; start < all.size();) {
    size_t end = all.find('\0', start);
    if (end == std::string::npos) end = all.size();
    if (all.compare(start, key.size(), key) == 0) return all.substr(start + key.size(), end - start - key.size());
    start = end + 1;
  }
  return std::nullopt;
}

// Removes the wait settings the test's own environment may carry, and puts them back.
class WithoutWaitSettings {
 public:
  WithoutWaitSettings() {
    for (const char* name : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"}) {
      if (const char* v = std::getenv(name)) saved_.emplace_back(name, v);
      unsetenv(name);
    }
  }
  ~WithoutWaitSettings() {
    for (const auto& [name, value] : saved_) setenv(name.c_str(), value.c_str(), 1);
  }

 private:
  std::vector<std::pair<std::string, std::string>> saved_;
};

TEST(ServeOpenmpWait, KernelThreadsSleepInsteadOfSpinning) {
  WithoutWaitSettings clean;
  ServeProcess server({default_model_path(), "-q"}, temp_dir("serve_openmp_wait") + "/serve.log");
  ASSERT_NE(server.port(), 0) << server.log_text();
  EXPECT_EQ(environment_value(server.pid(), "OMP_WAIT_POLICY"), "passive");
  EXPECT_EQ(environment_value(server.pid(), "GOMP_SPINCOUNT"), std::nullopt);
}

TEST(ServeOpenmpWait, ThePolicyTheUserSetIsKept) {
  WithoutWaitSettings clean;
  ScopedEnv active{{"OMP_WAIT_POLICY", "active"}};
  ServeProcess server({default_model_path(), "-q"}, temp_dir("serve_openmp_wait_user") + "/serve.log");
  ASSERT_NE(server.port(), 0) << server.log_text();
  EXPECT_EQ(environment_value(server.pid(), "OMP_WAIT_POLICY"), "active");
}

}  // namespace
