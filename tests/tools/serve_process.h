// A `sparq serve` process for end-to-end tests: started on a free loopback port (--port 0,
// read back from its log), waited for until /health answers 200, stopped with SIGTERM.
#pragma once

#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_runner.h"

namespace sparq::test {

class ServeProcess {
 public:
  // Starts `sparq serve ARGS --port 0`; port() is 0 when it did not come up within a minute.
  ServeProcess(std::vector<std::string> args, const std::string& log) : log_(log) {
    args.insert(args.begin(), "serve");
    args.insert(args.end(), {"--port", "0"});
    pid_ = spawn_sparq(args, log);
    for (int i = 0; i < 600 && pid_ > 0 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::smatch m;
      const std::string text = log_text();
      if (std::regex_search(text, m, std::regex("listening on http://127\\.0\\.0\\.1:([0-9]+)/"))) {
        port_ = std::stoi(m[1]);
      }
      if (waitpid(pid_, &status_, WNOHANG) == pid_) {  // it exited (a bad option, model...)
        pid_ = -1;
      }
    }
    for (int i = 0; i < 600 && port_ != 0; ++i) {
      auto health = client().Get("/health");
      if (health && health->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    port_ = 0;
  }
  ~ServeProcess() {
    if (pid_ > 0) stop();
  }

  int port() const { return port_; }
  std::string log_text() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(120, 0);
    return c;
  }
  // SIGTERM, then the exit code (-1: killed by a signal or not running).
  int stop() {
    terminate();
    return wait();
  }
  // SIGTERM, without waiting for the server to drain.
  void terminate() {
    if (pid_ > 0) kill(pid_, SIGTERM);
  }
  // The exit code once the process has ended (-1: killed by a signal or not running).
  int wait() {
    if (pid_ > 0) {
      waitpid(pid_, &status_, 0);
      pid_ = -1;
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }
  pid_t pid() const { return pid_; }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  int status_ = 0;
};

}  // namespace sparq::test
