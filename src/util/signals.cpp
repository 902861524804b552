#include "crest/util/signals.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace crest {

namespace {

std::atomic<int> g_stop_signals{0};
std::atomic<int> g_first_signal{0};

extern "C" void on_stop_signal(int signal_number) {
  int none = 0;
  g_first_signal.compare_exchange_strong(none, signal_number);
  if (g_stop_signals.fetch_add(1) >= 1) {
    // Second signal: the user insists; leave without cleaning up (async-signal-safe).
    _exit(128 + signal_number);
  }
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool stop_requested() { return g_stop_signals.load() > 0; }

int stop_signal() { return g_first_signal.load(); }

void reset_stop_request() {
  g_stop_signals.store(0);
  g_first_signal.store(0);
}

}  // namespace crest
