// The one process supervisor: starts child processes, waits for them, passes SIGINT/SIGTERM on
// to them and, when one fails, stops the others after a grace period. `crest train --nproc N`
// (dist/launch.h: the ranks) and `crest sweep` (app/sweep*.cpp: the points, sbatch) use it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace crest {

// Where one standard stream of a child goes.
struct Redirect {
  enum class Kind { kInherit, kNull, kRead, kTruncate, kAppend };
  Kind kind = Kind::kInherit;
  std::filesystem::path file;  // for kRead, kTruncate and kAppend

  static Redirect inherit() { return {}; }
  static Redirect null() { return {Kind::kNull, {}}; }  // /dev/null
  static Redirect read(std::filesystem::path f) { return {Kind::kRead, std::move(f)}; }
  static Redirect truncate(std::filesystem::path f) { return {Kind::kTruncate, std::move(f)}; }
  static Redirect append(std::filesystem::path f) { return {Kind::kAppend, std::move(f)}; }
};

// One child process: `program` (a path, no PATH search) run with `argv` (argv[0] first) in this
// process's environment with `set_env` added (replacing variables of the same name) and
// `unset_env` removed.
struct ChildSpec {
  std::string program;
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> set_env;
  std::vector<std::string> unset_env;
  Redirect in;   // stdin
  Redirect out;  // stdout
  Redirect err;  // stderr
  // A process group of its own: the terminal's Ctrl-C then reaches the supervisor alone, which
  // passes it on once, instead of reaching every child directly as well.
  bool own_group = false;
  // SIGTERM to the child should this process die (PR_SET_PDEATHSIG).
  bool die_with_parent = false;
};

// How a child ended: a waitpid() status.
class ExitStatus {
 public:
  ExitStatus() = default;
  explicit ExitStatus(int wait_status) : status_(wait_status) {}
  bool exited() const;    // by exit() (code() is its code)
  bool signaled() const;  // by a signal (signal() names it)
  int code() const;       // the exit code; -1 when it did not exit
  int signal() const;     // the signal; 0 when it was not killed by one
  bool success() const { return exited() && code() == 0; }
  int raw() const { return status_; }

 private:
  int status_ = 0;
};

// "exit code 2", "signal 9 (Killed)".
std::string describe(const ExitStatus& status);

// Whether a child that ended with `status` after a stop signal ended because of the stop: a stop's
// exit code (130, or 128 + SIGINT/SIGTERM) or death by SIGINT or SIGTERM (a child still starting,
// before its own handlers were in place). `crest sweep` counts such a point as stopped
// (resumable), never as failed.
bool ended_by_stop(const ExitStatus& status);

// One child that ended.
struct ChildExit {
  std::size_t child = 0;  // what spawn() returned for it
  pid_t pid = -1;
  ExitStatus status;
  // Running when the supervisor sent the grace-period SIGTERM (or SIGKILL): a death by that
  // signal is the supervisor's doing, not the child's failure.
  bool stopped_by_supervisor = false;
};

struct SupervisorOptions {
  // SIGINT and SIGTERM that reach this process are passed on to every running child, the first
  // `forward_signals` of them (0: this process's signal handlers are left alone). The
  // supervisor's handlers are in place from construction to destruction.
  int forward_signals = 0;
  // A signal beyond those forwarded that comes kInsistAfterMs or more after the first
  // (util/signals.h: sooner, it is the same Ctrl-C passed on again by a wrapper) ends this
  // process at once with 128 + the signal (the user insists); otherwise it is only recorded.
  bool exit_on_extra_signal = false;
  // When a child fails (a non-zero exit or a signal) and no signal was forwarded: after
  // `failure_grace` (none: never) the other children get SIGTERM, and SIGKILL `kill_grace` later.
  std::optional<std::chrono::milliseconds> failure_grace;
  std::chrono::milliseconds kill_grace{10000};
  // Called just before the grace-period SIGTERM and SIGKILL go out (to say why).
  std::function<void()> on_terminate;
  std::function<void()> on_kill;
};

// Owns the children it starts. Not copyable: one owner waits for each child.
class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions options = {});
  // Restores the signal handlers; children still running get SIGTERM, then SIGKILL after
  // kill_grace, and are reaped.
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts a child; returns its number (0, 1, ... in the order started). Throws
  // std::runtime_error naming the program (or the file of a redirection) and the reason when it
  // cannot start: the error comes back from the child before spawn() returns.
  std::size_t spawn(const ChildSpec& spec);

  pid_t pid(std::size_t child) const;
  std::size_t running() const;

  // Waits until a child ends, at most `timeout`, passing signals on and keeping the grace
  // periods meanwhile. Returns the child that ended; none when the time ran out or no child is
  // running.
  std::optional<ChildExit> wait_any(std::chrono::milliseconds timeout);
  // Waits for one child to end.
  ChildExit wait(std::size_t child);
  // Waits for every child; returns them in the order they ended.
  std::vector<ChildExit> wait_all();

  // Sends `signal_number` to every running child.
  void signal_all(int signal_number);

  // The first SIGINT/SIGTERM received while forwarding (0: none), and how many came.
  int stop_signal() const;
  int signals_received() const;

 private:
  struct Child {
    pid_t pid = -1;
    bool running = false;
    bool stopped_by_supervisor = false;
  };
  void forward_pending_signals();
  void keep_grace_periods();
  std::optional<ChildExit> try_reap(std::size_t child);
  std::optional<ChildExit> reap_one();
  void start_failure_grace(const ChildExit& exit);

  SupervisorOptions options_;
  std::vector<Child> children_;
  int forwarded_ = 0;
  bool failure_seen_ = false;
  bool handlers_installed_ = false;
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> terminate_at_;
  std::optional<Clock::time_point> kill_at_;
};

}  // namespace crest
