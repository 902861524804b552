// SIGINT / SIGTERM turn into a flag the training loop polls between steps, so a stop always
// leaves a checkpoint behind instead of a half-written file.
//
// One Ctrl-C can arrive several times: a wrapper such as `timeout` passes it on to its child
// and to its process group, on top of the terminal's own. So signals within kInsistAfterMs of
// the first are the same request, and the graceful stop goes on (checkpoint, log, exit 130);
// only a signal kInsistAfterMs or more after the first ends the process at once (exit 128 + the
// signal), which may cut a log line but never damages the checkpoint (written atomically: the
// previous one stays the good copy).
#pragma once

#include <cstdint>

namespace crest {

// How long after the first stop signal another one means "stop now" (milliseconds).
constexpr std::int64_t kInsistAfterMs = 2000;

// Installs the handlers (idempotent).
void install_stop_handlers();

// True once SIGINT or SIGTERM has arrived.
bool stop_requested();

// The first stop signal received (SIGINT or SIGTERM), 0 before any.
int stop_signal();

// For tests: clears the flag.
void reset_stop_request();

// CLOCK_MONOTONIC in milliseconds; async-signal-safe (the handlers call it).
std::int64_t monotonic_ms();

// Whether a signal at `now_ms` comes kInsistAfterMs (or what set_insist_after_ms set) or more
// after the first one at `first_ms`; async-signal-safe.
bool insists(std::int64_t first_ms, std::int64_t now_ms);

// For tests: replaces kInsistAfterMs (0: every later signal insists).
void set_insist_after_ms(std::int64_t ms);

}  // namespace crest
