#include "crest/util/signals.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>

namespace crest {

namespace {

std::atomic<int> g_stop_signals{0};
std::atomic<int> g_first_signal{0};
std::atomic<std::int64_t> g_first_ms{0};  // when the first signal came (monotonic ms)
std::atomic<std::int64_t> g_insist_after_ms{kInsistAfterMs};

extern "C" void on_stop_signal(int signal_number) {
  const std::int64_t now = monotonic_ms();
  std::int64_t never = 0;
  g_first_ms.compare_exchange_strong(never, now);  // before the count, which reads it
  int none = 0;
  g_first_signal.compare_exchange_strong(none, signal_number);
  if (g_stop_signals.fetch_add(1) >= 1 && insists(g_first_ms.load(), now)) {
    // A signal well after the first: the user insists; leave without cleaning up
    // (async-signal-safe). The checkpoint on disk is whole (written atomically).
    _exit(128 + signal_number);
  }
}

}  // namespace

std::int64_t monotonic_ms() {
  struct timespec now {};
  ::clock_gettime(CLOCK_MONOTONIC, &now);  // async-signal-safe
  return static_cast<std::int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

bool insists(std::int64_t first_ms, std::int64_t now_ms) {
  return now_ms - first_ms >= g_insist_after_ms.load();
}

void set_insist_after_ms(std::int64_t ms) { g_insist_after_ms.store(ms); }

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, SIGINT);  // one handler at a time
  sigaddset(&action.sa_mask, SIGTERM);
  action.sa_flags = 0;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool stop_requested() { return g_stop_signals.load() > 0; }

int stop_signal() { return g_first_signal.load(); }

void reset_stop_request() {
  g_stop_signals.store(0);
  g_first_signal.store(0);
  g_first_ms.store(0);
}

}  // namespace crest
