#include "crest/util/progress.h"

#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "crest/util/logging.h"

namespace crest {

namespace {

constexpr double kTerminalInterval = 0.25;  // seconds between redraws of the bar
constexpr double kLogInterval = 30.0;       // seconds between plain progress lines
constexpr int kDefaultWidth = 80;           // columns when neither ioctl nor COLUMNS says
constexpr int kWideBar = 24;                // bar columns (inside the brackets), then narrow
constexpr int kNarrowBar = 12;

// How the head is written: in full, compacted, or the label and step alone.
enum class Head { kFull, kCompact, kMinimal };

// How much of a progress line is shown: the bar's columns (0: none), the head, and how many
// fields are kept (those of the highest priority; in their short text unless the head is full).
struct Layout {
  int bar;
  Head head;
  std::size_t keep;
};

// "gen 1/2 120/200 | 2.34 steps/s | ETA gen 1m20s, run 9m00s"; compact: "gen 1/2 120/200 |
// 2.3/s | ETA 1m20s, run 9m00s"; minimal: "gen 1/2 120/200".
std::string head_text(const ProgressState& state, Head head) {
  const std::string steps =
      state.label + " " + std::to_string(state.step) + "/" + std::to_string(state.total);
  if (head == Head::kMinimal) return steps;
  const bool compact = head == Head::kCompact;
  const bool run_eta = std::isfinite(state.run_eta_seconds) &&
                       std::llround(state.run_eta_seconds) != std::llround(state.eta_seconds);
  std::string eta = "ETA ";
  if (run_eta) {
    eta += (compact ? "" : "gen ") + format_duration(state.eta_seconds) + ", run " +
           format_duration(state.run_eta_seconds);
  } else {
    eta += format_duration(state.eta_seconds);
  }
  char rate[48];
  std::snprintf(rate, sizeof(rate), compact ? " | %.1f/s | " : " | %.2f steps/s | ",
                state.steps_per_second);
  return steps + rate + eta;
}

std::string bar_text(const ProgressState& state, int columns) {
  if (columns <= 0) return "";
  const double fraction =
      state.total > 0 ? std::clamp(static_cast<double>(state.step) / state.total, 0.0, 1.0) : 1.0;
  std::string bar(static_cast<std::size_t>(fraction * columns), '#');
  bar.resize(static_cast<std::size_t>(columns), '.');
  return "[" + bar + "] ";
}

std::string line_text(const ProgressState& state, const ProgressFields& fields,
                      const Layout& layout) {
  // The `keep` fields of the highest priority (the earlier on ties), in their own order.
  std::vector<std::size_t> order(fields.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return fields[a].priority > fields[b].priority;
  });
  std::vector<bool> kept(fields.size(), false);
  for (std::size_t k = 0; k < layout.keep && k < order.size(); ++k) kept[order[k]] = true;
  std::string line = bar_text(state, layout.bar) + head_text(state, layout.head);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (!kept[i]) continue;
    const ProgressField& f = fields[i];
    const bool short_text = layout.head != Head::kFull && !f.short_text.empty();
    line += " | " + (short_text ? f.short_text : f.text);
  }
  return line;
}

// `text` cut to at most `bytes` bytes, never inside a UTF-8 sequence.
std::string cut(const std::string& text, std::size_t bytes) {
  if (text.size() <= bytes) return text;
  std::size_t end = bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0u) == 0x80u) --end;
  return text.substr(0, end);
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<long long>(seconds + 0.5);
  char buffer[32];
  if (total >= 3600) {
    std::snprintf(buffer, sizeof(buffer), "%lldh%02lldm", total / 3600, (total % 3600) / 60);
  } else if (total >= 60) {
    std::snprintf(buffer, sizeof(buffer), "%lldm%02llds", total / 60, total % 60);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%llds", total);
  }
  return buffer;
}

std::string format_progress_line(const ProgressState& state, const ProgressFields& fields,
                                 int width, bool bar) {
  if (width < 2) return "";
  const auto limit = static_cast<std::size_t>(width - 1);
  const std::size_t n = fields.size();
  std::vector<Layout> layouts;
  if (bar) {
    // A live bar: the ETA matters more than the fields.
    layouts.push_back({kWideBar, Head::kFull, n});
    layouts.push_back({kNarrowBar, Head::kFull, n});
    for (std::size_t keep = n; keep >= 1; --keep)
      layouts.push_back({kNarrowBar, Head::kCompact, keep});
    if (n > 0) layouts.push_back({0, Head::kCompact, 1});
    layouts.push_back({0, Head::kCompact, 0});
  } else {
    // A line that stays (an evaluation): the fields matter more than the rate and the ETA.
    layouts.push_back({0, Head::kFull, n});
    layouts.push_back({0, Head::kCompact, n});
    for (std::size_t keep = n; keep >= 1; --keep) layouts.push_back({0, Head::kMinimal, keep});
    layouts.push_back({0, Head::kMinimal, 0});
  }
  std::string line;
  for (const Layout& layout : layouts) {
    line = line_text(state, fields, layout);
    if (line.size() <= limit) return line;
  }
  return cut(line, limit);
}

std::string progress_log_line(const ProgressState& state, const ProgressFields& fields) {
  return line_text(state, fields, {0, Head::kFull, fields.size()});
}

int terminal_width() {
  winsize size{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* columns = std::getenv("COLUMNS")) {
    char* end = nullptr;
    const long value = std::strtol(columns, &end, 10);
    if (end != columns && *end == '\0' && value > 0 && value < 100000) {
      return static_cast<int>(value);
    }
  }
  return kDefaultWidth;
}

Progress::Progress(std::string label, std::int64_t total, std::int64_t first, std::int64_t later)
    : label_(std::move(label)),
      total_(total),
      first_(first),
      later_(later),
      terminal_(::isatty(STDOUT_FILENO) == 1),
      start_(Clock::now()),
      last_shown_(Clock::now()) {}

bool Progress::due() const {
  const double since = std::chrono::duration<double>(Clock::now() - last_shown_).count();
  return since >= (terminal_ ? kTerminalInterval : kLogInterval);
}

double Progress::steps_per_second(std::int64_t step) const {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  return elapsed > 0 ? static_cast<double>(step - first_) / elapsed : 0.0;
}

ProgressState Progress::state(std::int64_t step) const {
  ProgressState state;
  state.label = label_;
  state.step = step;
  state.total = total_;
  state.steps_per_second = steps_per_second(step);
  const double rate = state.steps_per_second;
  state.eta_seconds = rate > 0 ? static_cast<double>(total_ - step) / rate : NAN;
  state.run_eta_seconds =
      later_ > 0 && rate > 0 ? static_cast<double>(total_ - step + later_) / rate : NAN;
  return state;
}

void Progress::draw(const ProgressState& state, const ProgressFields& fields) {
  const std::string line = format_progress_line(state, fields, terminal_width(), /*bar=*/true);
  std::printf("\r%s\033[K", line.c_str());
  std::fflush(stdout);
  drawn_ = true;
}

void Progress::update(std::int64_t step, const ProgressFields& fields) {
  last_shown_ = Clock::now();
  const ProgressState now = state(step);
  if (terminal_) {
    draw(now, fields);
  } else {
    spdlog::info("{}", progress_log_line(now, fields));
  }
}

void Progress::update(std::int64_t step, const std::string& fields) {
  update(step, ProgressFields{{fields, "", 0}});
}

void Progress::record(std::int64_t step, const ProgressFields& fields) {
  last_shown_ = Clock::now();
  const ProgressState now = state(step);
  if (terminal_) {
    // Without the bar, which would only say where the line was drawn.
    std::printf("\r%s\033[K\n", format_progress_line(now, fields, terminal_width(), false).c_str());
    std::fflush(stdout);
    drawn_ = false;
    log_to_files(progress_log_line(now, fields));
  } else {
    spdlog::info("{}", progress_log_line(now, fields));
  }
}

void Progress::finish() {
  if (terminal_ && drawn_) {
    std::printf("\n");
    std::fflush(stdout);
    drawn_ = false;
  }
}

}  // namespace crest
