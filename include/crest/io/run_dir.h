// Run folders: one writer at a time, and no silent reuse of a folder that holds another run.
#pragma once

#include <filesystem>
#include <string>

namespace crest {

// An exclusive lock on a run folder, held for the lifetime of the object (flock on
// RUN/.lock, which also records the holder's pid and command). The kernel drops it when the
// process dies, even by SIGKILL, so a crashed run never blocks its own resume.
class RunLock {
 public:
  // Creates the folder if needed. Throws InputError naming the live process that holds it.
  explicit RunLock(const std::filesystem::path& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// The command line of this process (for the lock file and the logs).
std::string current_command_line();

}  // namespace crest
