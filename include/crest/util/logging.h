// Logging for people: spdlog to stderr (stdout stays free for tables and JSON), plus a log
// file inside the run folder once one exists.
#pragma once

#include <filesystem>
#include <string>

namespace crest {

enum class Verbosity { kQuiet, kNormal, kVerbose };

// Installs the console logger as spdlog's default: warnings and errors only when quiet,
// debug messages when verbose.
void setup_logging(Verbosity verbosity);

// Also writes every message (at debug level and up) to `file`, appending; creates its folder.
void add_log_file(const std::filesystem::path& file);

// Writes `message` at info level to the log files (add_log_file) only, not to the console: for
// what the console already shows another way, such as an evaluation line drawn over the
// terminal's progress bar (util/progress.h).
void log_to_files(const std::string& message);

}  // namespace crest
