// SIGINT / SIGTERM turn into a flag the training loop polls between steps, so a stop always
// leaves a checkpoint behind instead of a half-written file.
#pragma once

namespace crest {

// Installs the handlers (idempotent). A second SIGINT while stopping exits at once.
void install_stop_handlers();

// True once SIGINT or SIGTERM has arrived.
bool stop_requested();

// The first stop signal received (SIGINT or SIGTERM), 0 before any.
int stop_signal();

// For tests: clears the flag.
void reset_stop_request();

}  // namespace crest
