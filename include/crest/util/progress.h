// Progress for people: a one-line bar (steps/s, ETA and the caller's fields) redrawn in place
// when stdout is a terminal, periodic log lines otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace crest {

class Progress {
 public:
  // `total` steps; `first` is where this process starts (after a resume, not 0).
  Progress(std::string label, std::int64_t total, std::int64_t first);

  // Whether enough time has passed that update() would show something (cheap; call each step).
  bool due() const;

  // Shows step `step` with extra fields (e.g. "loss 0.512 mask 0.83").
  void update(std::int64_t step, const std::string& fields);

  // Ends the bar line (terminal) so later output starts on a fresh line.
  void finish();

  double steps_per_second(std::int64_t step) const;

 private:
  using Clock = std::chrono::steady_clock;
  std::string label_;
  std::int64_t total_;
  std::int64_t first_;
  bool terminal_;
  Clock::time_point start_;
  Clock::time_point last_shown_;
  bool drawn_ = false;
};

// "1h02m", "4m05s", "12s".
std::string format_duration(double seconds);

}  // namespace crest
