// Progress for people: a one-line bar (steps/s, ETA and the caller's fields) redrawn in place
// when stdout is a terminal, periodic log lines otherwise. On a terminal the line is fitted to
// the terminal's width (never wrapped, so redraws do not stack up): low-priority fields go
// first, then the bar and the labels shrink, and what still does not fit is cut.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace crest {

// One field after the bar, e.g. {"loss 0.5120", "loss 0.512", 4}. When the line is too wide the
// fields of the lowest `priority` are dropped first (higher = kept longer); `short_text`
// (empty: same as `text`) replaces `text` once the line is compacted.
struct ProgressField {
  std::string text;
  std::string short_text;
  int priority = 0;
};
using ProgressFields = std::vector<ProgressField>;

// What a progress line shows besides the fields.
struct ProgressState {
  std::string label;       // e.g. "gen 1/3"
  std::int64_t step = 0;   // done
  std::int64_t total = 0;  // of this part (generation)
  double steps_per_second = 0.0;
  double eta_seconds = 0.0;      // of this part; NaN when unknown
  double run_eta_seconds = 0.0;  // of the whole run; NaN (or equal to eta_seconds) to leave out
};

// The line for a terminal `width` columns wide: at most width - 1 characters (the last column
// stays free so that no terminal wraps). In order, until it fits:
// - `bar` (a live bar, redrawn): the bar shrinks from 24 to 12 columns, the head is compacted
//   ("2.34 steps/s" to "2.3/s", "ETA gen 1m20s, run 9m00s" to "ETA 1m20s, run 9m00s") and
//   fields take their short text, fields are dropped lowest priority first (keeping one), the
//   bar goes, the last field goes;
// - no bar (a line that stays, such as an evaluation): the head is compacted, then it keeps
//   only the label and step while fields are dropped lowest priority first, down to none;
// and what still does not fit is cut (never inside a UTF-8 character). Widths under 2 give "".
std::string format_progress_line(const ProgressState& state, const ProgressFields& fields,
                                 int width, bool bar);

// The full line for a log (no bar, no width limit), e.g. "gen 1/2 20/20 | 2.34 steps/s | ETA
// gen 0s, run 8s | loss 0.5120 | ...".
std::string progress_log_line(const ProgressState& state, const ProgressFields& fields);

// Columns of the terminal on stdout (ioctl TIOCGWINSZ), else the COLUMNS environment variable,
// else 80.
int terminal_width();

class Progress {
 public:
  // `total` steps; `first` is where this process starts (after a resume, not 0); `later` steps
  // of the run follow this part (later generations), at the same rate, for the run's ETA.
  Progress(std::string label, std::int64_t total, std::int64_t first, std::int64_t later = 0);

  // Whether enough time has passed that update() would show something (cheap; call each step).
  bool due() const;

  // Shows step `step` with extra fields: redraws the bar on a terminal, logs a line otherwise.
  void update(std::int64_t step, const ProgressFields& fields);
  void update(std::int64_t step, const std::string& fields);  // one field, e.g. "images"

  // A line that stays, e.g. an evaluation: on a terminal it replaces the bar (fitted to the
  // width, without a bar) and the full line goes to the log files only (util/logging.h);
  // otherwise it is logged. Either way crest.log gets the same full line.
  void record(std::int64_t step, const ProgressFields& fields);

  // Ends the bar line (terminal) so later output starts on a fresh line.
  void finish();

  double steps_per_second(std::int64_t step) const;

 private:
  using Clock = std::chrono::steady_clock;
  ProgressState state(std::int64_t step) const;
  void draw(const ProgressState& state, const ProgressFields& fields);

  std::string label_;
  std::int64_t total_;
  std::int64_t first_;
  std::int64_t later_;
  bool terminal_;
  Clock::time_point start_;
  Clock::time_point last_shown_;
  bool drawn_ = false;
};

// "1h02m", "4m05s", "12s".
std::string format_duration(double seconds);

}  // namespace crest
