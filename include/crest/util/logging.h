// Logging for people: spdlog to stderr (stdout stays free for tables and JSON), plus a log
// file inside the run folder once one exists.
#pragma once

#include <filesystem>

namespace crest {

enum class Verbosity { kQuiet, kNormal, kVerbose };

// Installs the console logger as spdlog's default: warnings and errors only when quiet,
// debug messages when verbose.
void setup_logging(Verbosity verbosity);

// Also writes every message (at debug level and up) to `file`, appending; creates its folder.
void add_log_file(const std::filesystem::path& file);

}  // namespace crest
