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

// True when `run_dir` holds a crest run: its config.yaml and split_manifest.json both exist.
// `crest train` writes config.yaml only once the data is loaded and the split recorded, so a
// first run that fails before that (a wrong data.root) leaves no run behind, and a folder with
// only `crest data prepare`'s manifest holds no run either.
bool holds_run(const std::filesystem::path& run_dir);

// Checks that crest may write a run into `run_dir` before anything is created there: the
// folder does not exist, is empty, holds a crest run, or holds only what crest writes before a
// run starts (config.yaml, split_manifest.json, crest.log, .lock, stdout.log, stderr.log, and
// their temporaries). Anything else makes it someone else's folder (`--out /`, a folder with its
// own summary.json): InputError naming the folder and the first such entry. `option` says how
// the user chose the folder, for the message (e.g. "--out / run.out_dir").
void check_run_folder_is_ours(const std::filesystem::path& run_dir, const std::string& option);

// The command line of this process (for the lock file and the logs).
std::string current_command_line();

}  // namespace crest
