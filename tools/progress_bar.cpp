#include "tools/progress_bar.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace sparq::tools {
namespace {

std::string clock_time(double seconds) {
  auto s = uint64_t(std::max(0.0, seconds));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

// Seconds between two lines in a log (stderr not a terminal).
double log_interval() {
  constexpr double kDefault = 30;
  const char* env = std::getenv("SPARQ_PROGRESS_INTERVAL");
  if (!env) return kDefault;
  char* end = nullptr;
  double seconds = std::strtod(env, &end);
  return end != env && *end == '\0' && seconds >= 0 ? seconds : kDefault;
}

}  // namespace

ProgressBar::ProgressBar(std::string unit, uint64_t total_bytes, bool enabled)
    : unit_(std::move(unit)),
      total_bytes_(total_bytes),
      enabled_(enabled),
      terminal_(isatty(STDERR_FILENO) != 0),
      log_interval_s_(log_interval()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(uint64_t items, uint64_t bytes) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since < (terminal_ ? 0.1 : log_interval_s_)) return;
  last_draw_ = now;
  draw(items, bytes, false);
}

void ProgressBar::resume_from(uint64_t items, uint64_t bytes) {
  base_items_ = items;
  base_bytes_ = bytes;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

void ProgressBar::draw(uint64_t items, uint64_t bytes, bool clear) {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? double(items - std::min(items, base_items_)) / elapsed : 0;
  std::string line;
  if (total_bytes_ > 0) {
    double fraction = std::min(1.0, double(bytes) / double(total_bytes_));
    double done = double(bytes - std::min(bytes, base_bytes_)), left = double(total_bytes_ - std::min(bytes, total_bytes_));
    double eta = done > 0 ? elapsed * left / done : 0;
    if (terminal_) {
      constexpr int kWidth = 30;
      int filled = int(fraction * kWidth);
      line = fmt::format("[{}{}] {:5.1f}%  {} {}  {:.1f} {}/s  elapsed {}  eta {}", std::string(filled, '#'),
                         std::string(kWidth - filled, '.'), fraction * 100, items, unit_, rate, unit_,
                         clock_time(elapsed), clock_time(eta));
    } else {
      line = fmt::format("progress: {:.1f}% {} {} ({:.1f} {}/s, elapsed {}, eta {})", fraction * 100, items, unit_,
                         rate, unit_, clock_time(elapsed), clock_time(eta));
    }
  } else {
    line = fmt::format("{}{} {}  {:.1f} {}/s  elapsed {}", terminal_ ? "" : "progress: ", items, unit_, rate, unit_,
                       clock_time(elapsed));
  }
  if (terminal_) {
    fmt::print(stderr, "\r\033[K{}", clear ? "" : line);
  } else {
    fmt::print(stderr, "{}\n", line);
  }
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (enabled_ && terminal_ && drawn_) {
    fmt::print(stderr, "\r\033[K");
    std::fflush(stderr);
  }
  drawn_ = false;
  enabled_ = false;
}

}  // namespace sparq::tools
