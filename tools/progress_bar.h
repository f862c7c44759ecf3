// ProgressBar of long work on stderr: a redrawn bar with rate and ETA on a terminal (up to
// ten times a second), and a plain line every SPARQ_PROGRESS_INTERVAL seconds otherwise
// (default 30: cluster logs; 0: every update), never both.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sparq::tools {

class ProgressBar {
 public:
  // `total_bytes` 0: unknown size (stdin), so no percentage or ETA. `enabled` false: silent.
  ProgressBar(std::string unit, uint64_t total_bytes, bool enabled);
  ~ProgressBar();

  // Cheap to call often: draws at most ten times a second.
  void update(uint64_t items, uint64_t bytes);
  // A resumed job starts at `items` and `bytes` done by an earlier run: rate and ETA count
  // from here.
  void resume_from(uint64_t items, uint64_t bytes);
  // Clears the bar (the caller prints its own summary).
  void finish();

 private:
  void draw(uint64_t items, uint64_t bytes, bool clear);

  std::string unit_;
  uint64_t total_bytes_;
  bool enabled_, terminal_;
  double log_interval_s_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
  uint64_t base_items_ = 0, base_bytes_ = 0;
};

}  // namespace sparq::tools
