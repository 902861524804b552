// Error types. The library throws; only the CLI turns these into messages and exit codes:
// InputError (bad usage, config or data: the user can fix it) exits 2, anything else 1.
#pragma once

#include <stdexcept>
#include <string>

namespace crest {

// Something the user supplied is wrong: a config key, a command-line value, a data file.
// The message names what and where, and says what to do.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A config key or value is wrong (unknown key, wrong type, out of range).
class ConfigError : public InputError {
 public:
  using InputError::InputError;
};

// A dataset on disk is missing, truncated or malformed.
class DataError : public InputError {
 public:
  using InputError::InputError;
};

}  // namespace crest

namespace crest {

// The user asked the run to stop (SIGINT/SIGTERM); a checkpoint was written. Exit code 130.
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file could not be written (disk full, no permission, a folder in the way). The message
// names the file; the write left the previous version of it (and every other file) intact and
// no temporary behind. Exit code 1.
class WriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Training produced a non-finite loss; the last good checkpoint is kept. Exit code 1.
class TrainingDiverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace crest
