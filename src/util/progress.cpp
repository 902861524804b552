#include "crest/util/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace crest {

namespace {

constexpr double kTerminalInterval = 0.25;  // seconds between redraws of the bar
constexpr double kLogInterval = 30.0;       // seconds between plain progress lines

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

Progress::Progress(std::string label, std::int64_t total, std::int64_t first)
    : label_(std::move(label)),
      total_(total),
      first_(first),
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

void Progress::update(std::int64_t step, const std::string& fields) {
  last_shown_ = Clock::now();
  const double rate = steps_per_second(step);
  const double eta = rate > 0 ? static_cast<double>(total_ - step) / rate : NAN;
  char head[160];
  std::snprintf(head, sizeof(head), "%s %lld/%lld | %.2f steps/s | ETA %s", label_.c_str(),
                static_cast<long long>(step), static_cast<long long>(total_), rate,
                format_duration(eta).c_str());
  if (terminal_) {
    constexpr int kWidth = 24;
    const double fraction = total_ > 0 ? static_cast<double>(step) / total_ : 1.0;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::printf("\r[%s] %s | %s\033[K", bar.c_str(), head, fields.c_str());
    std::fflush(stdout);
    drawn_ = true;
  } else {
    spdlog::info("{} | {}", head, fields);
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
