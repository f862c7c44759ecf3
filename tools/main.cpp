// sparq: run pruned and quantized transformer models on CPUs, and plan their deployment.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <omp.h>

#include "kernels/threading.h"
#include "sparq_version.h"
#include "tools/command.h"
#include "tools/exit_code.h"
#include "tools/usage_error.h"

namespace {

constexpr const char* kExitCodes =
    "Exit codes: 0 ok; 1 usage error; 2 invalid or unreadable input (model, documents, "
    "configuration); 3 a quality or throughput floor was not cleared; 4 not supported on "
    "this CPU/OS/build.";

// The flag of each library option an error can be about.
std::string_view flag_of(const std::string& option) {
  static const std::map<std::string, std::string_view, std::less<>> flags = {
      {"batch_size", "--batch-size"}, {"chat", "--chat"},             {"chunk_size", "--chunk-size"},
      {"format", "--format"},         {"label_field", "--label-field"}, {"max_errors", "--max-errors"},
      {"max_length", "--max-length"}, {"max_tokens", "--max-tokens"}, {"model_name", "--model-name"}, {"port", "--port"}, {"measured", "--measured"},
      {"restart", "--restart"},       {"shard", "--shard"},           {"stop", "--stop"},
      {"text_field", "--text-field"}, {"threads", "--threads"}};
  auto it = flags.find(option);
  return it == flags.end() ? std::string_view() : it->second;
}

int report(const sparq::Error& e) {
  std::fflush(stdout);
  std::string_view flag = flag_of(e.option());
  fmt::print(stderr, "sparq: error: {}{}\n", e.message(), flag.empty() ? "" : fmt::format(" ({})", flag));
  return static_cast<int>(sparq::tools::exit_code(e.kind()));
}

// libgomp's default wait spins for up to 300,000 iterations before sleeping. When the
// machine is busier than its core count (shared servers, CI, a laptop doing other work), a
// spinning thread burns the time slice the thread it waits for needs, and a 70 ms forward
// pass turns into 1.1 s tails (sparq bench, BERT-base q8, 2 threads, load 5: p95 1144 ms
// with the default, 107 ms with a spin of 10,000). libgomp reads its settings before
// main(), so the setting is made by re-executing once; OMP_WAIT_POLICY or GOMP_SPINCOUNT
// set by the user are left alone.
// `sparq serve` does not spin at all (OMP_WAIT_POLICY=passive): its kernel threads share the
// cores with its own connection threads (parsing, tokenising, answering) and often with
// the clients, so it is oversubscribed by design, and every spin takes CPU from a request.
// Measured with bench/serve/serve_load.py (default classifier, 2 threads, 2-core VM, beside
// one busy process; 2026-12-07): one client at a time 680-740 requests/s against 107-142
// with a spin of 10,000, 64 clients 1.13-1.16x, p50 at half of saturation 2 ms against
// 32-35 ms. Quiet, BERT-base at 16 clients: 102 against 101 requests/s.
void bound_openmp_spinning(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  const char* command = nullptr;  // the subcommand: the first argument that is not an option
  for (char** a = argv + 1; *a && !command; ++a) {
    if ((*a)[0] != '-') command = *a;
  }
  if (command && std::string_view(command) == "serve") {
    setenv("OMP_WAIT_POLICY", "passive", 1);
  } else {
    setenv("GOMP_SPINCOUNT", "10000", 1);
  }
  execv("/proc/self/exe", argv);  // returns only on failure: run on with the default
}

// OMP_NUM_THREADS=99999 made libgomp abort when it failed to start that many threads; the
// count every parallel region defaults to is clamped to what the machine can use.
void bound_openmp_threads() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  if (!env) return;
  char* end = nullptr;
  long requested = std::strtol(env, &end, 10);  // the first of a nested list "a,b"
  const int limit = sparq::kernels::max_threads();
  if (end == env || requested <= limit) return;
  fmt::print(stderr, "sparq: warning: OMP_NUM_THREADS={} is more than the {} threads this machine can use (4 per "
             "CPU); using {}\n", env, limit, limit);
  omp_set_num_threads(limit);
}

}  // namespace

int main(int argc, char** argv) {
  bound_openmp_spinning(argv);
  bound_openmp_threads();
  CLI::App app{"sparq " SPARQ_VERSION_STRING
               " - run pruned and quantized transformer models fast on CPUs, measure them, "
               "and plan CPU/GPU/NPU deployment.",
               "sparq"};
  app.footer(kExitCodes);
  app.set_version_flag("--version", "sparq " SPARQ_VERSION_STRING);
  app.require_subcommand(1);

  std::vector<sparq::tools::Command> commands = {
      sparq::tools::add_convert_command(app),
      sparq::tools::add_classify_command(app),
      sparq::tools::add_embed_command(app),
      sparq::tools::add_merge_command(app),
      sparq::tools::add_eval_command(app),
      sparq::tools::add_generate_command(app),
      sparq::tools::add_bench_command(app),
      sparq::tools::add_tokenize_command(app),
      sparq::tools::add_hwinfo_command(app),
      sparq::tools::add_inspect_command(app),
      sparq::tools::add_plan_command(app),
      sparq::tools::add_sensitivity_command(app),
      sparq::tools::add_serve_command(app),
      sparq::tools::add_synth_command(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0 in CLI11.
    if (e.get_exit_code() == 0) return app.exit(e);
    fmt::print(stderr, "sparq: error: {}\n",
               sparq::tools::usage_error_message(app, std::vector<std::string>(argv + 1, argv + argc), e));
    return static_cast<int>(sparq::tools::ExitCode::usage);
  }

  for (auto& command : commands) {
    if (!command.app->parsed()) continue;
    try {
      sparq::Status status = command.run();
      return status.ok() ? 0 : report(status.error());
    } catch (const std::bad_alloc&) {
      return report(sparq::Error("out of memory"));
    } catch (const std::exception& e) {
      return report(sparq::Error(fmt::format("internal error: {}", e.what())));
    }
  }
  return static_cast<int>(sparq::tools::ExitCode::usage);
}
