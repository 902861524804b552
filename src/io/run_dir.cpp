#include "crest/io/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "crest/io/run_files.h"
#include "crest/util/error.h"

namespace crest {

namespace fs = std::filesystem;

bool holds_run(const fs::path& run_dir) {
  std::error_code ec;
  return fs::is_regular_file(run_dir / kConfigFile, ec) &&
         fs::is_regular_file(run_dir / kSplitManifestFile, ec);
}

namespace {

// The folders crest writes inside a run are its own: a symbolic link in their place (to another
// run, or anywhere) would make training, evaluate or export write where it leads.
void check_no_planted_links(const fs::path& run_dir) {
  std::error_code ec;
  for (fs::directory_iterator it(run_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const bool own = name.rfind("gen_", 0) == 0 || name == "eval" || name == "export" ||
                     name == "predictions" || name == kTensorBoardDir;
    if (own && it->is_symlink(ec)) {
      throw InputError("the run folder " + run_dir.string() + " holds " + name +
                       " as a symbolic link: crest writes into its own folders only, never "
                       "through a link that leads elsewhere. Remove the link (or move the "
                       "folder it leads to in its place)");
    }
  }
}

}  // namespace

void check_run_folder_is_ours(const fs::path& run_dir, const std::string& option) {
  std::error_code ec;
  if (!fs::exists(run_dir, ec)) return;
  if (!fs::is_directory(run_dir, ec)) {
    throw InputError("the run folder " + run_dir.string() + " exists and is not a folder; choose " +
                     "another " + option);
  }
  if (holds_run(run_dir)) {
    check_no_planted_links(run_dir);
    return;
  }
  // What crest itself leaves in a folder before a run has started in it.
  static const std::vector<std::string> kOurs = {kConfigFile, kSplitManifestFile, kLogFile,
                                                 kLockFile,   kStdoutLogFile,     kStderrLogFile,
                                                 kCacheDir,   kThreadsFile};
  std::vector<std::string> foreign;
  for (fs::directory_iterator it(run_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    bool ours = false;
    for (const std::string& own : kOurs) {
      ours = ours || name == own || name.rfind(own + ".tmp.", 0) == 0;
    }
    if (!ours) foreign.push_back(name);
  }
  if (ec) throw InputError("cannot list the run folder " + run_dir.string() + ": " + ec.message());
  if (foreign.empty()) return;
  std::sort(foreign.begin(), foreign.end());
  throw InputError("the run folder " + run_dir.string() + " is not empty and holds no crest run " +
                   "(it has '" + foreign.front() + "'" +
                   (foreign.size() > 1 ? " and " + std::to_string(foreign.size() - 1) + " more"
                                       : std::string()) +
                   "); crest writes a new run only into a new or empty folder, so nothing of " +
                   "yours is overwritten: choose another " + option);
}

std::string current_command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : raw) {
    if (c == '\0') c = ' ';
  }
  while (!raw.empty() && raw.back() == ' ') raw.pop_back();
  return raw;
}

RunLock::RunLock(const fs::path& run_dir) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) {
    throw InputError("cannot create the run folder " + run_dir.string() + ": " + ec.message());
  }
  const fs::path lock_path = run_dir / ".lock";
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw InputError("cannot open " + lock_path.string() + ": " + std::strerror(errno));
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    std::ifstream in(lock_path);
    std::string holder((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd_);
    fd_ = -1;
    throw InputError("the run folder " + run_dir.string() + " is in use by another process (" +
                     (holder.empty() ? std::string("unknown") : holder) +
                     "); wait for it to finish, stop it, or choose another run.out_dir");
  }
  std::ostringstream holder;
  holder << "pid " << ::getpid() << ": " << current_command_line() << "\n";
  const std::string text = holder.str();
  if (::ftruncate(fd_, 0) == 0) {
    const ssize_t written = ::pwrite(fd_, text.data(), text.size(), 0);
    (void)written;  // the lock itself is what matters; the text only helps people
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

}  // namespace crest
