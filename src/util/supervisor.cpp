#include "crest/util/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "crest/util/signals.h"

extern char** environ;

namespace crest {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPoll{50};  // how often waiting looks at the children

// ---- signals -------------------------------------------------------------------------------
// The handlers only count and remember; the supervisor passes the signals on when it polls.

constexpr int kRemembered = 4;
std::atomic<int> g_signal_count{0};
std::atomic<int> g_signals[kRemembered];
std::atomic<int> g_exit_after{0};  // > 0: a signal beyond this many ends the process
std::atomic<bool> g_forwarding{false};
struct sigaction g_previous_int {};
struct sigaction g_previous_term {};

std::atomic<std::int64_t> g_first_ms{0};  // when the first signal came (util/signals.h)

extern "C" void on_supervisor_signal(int signal_number) {
  const std::int64_t now = monotonic_ms();
  const int index = g_signal_count.fetch_add(1);
  if (index == 0) g_first_ms.store(now);
  if (index < kRemembered) g_signals[index].store(signal_number);
  const int exit_after = g_exit_after.load();
  // Signals soon after the first are the same Ctrl-C passed on again (a wrapper such as
  // `timeout`): only a later one ends the process at once.
  if (exit_after > 0 && index >= exit_after && insists(g_first_ms.load(), now)) {
    _exit(128 + signal_number);
  }
}

void install_handlers(int exit_after) {
  bool expected = false;
  if (!g_forwarding.compare_exchange_strong(expected, true)) {
    throw std::logic_error("a second Supervisor forwarding signals while one still does");
  }
  g_signal_count.store(0);
  g_first_ms.store(0);
  for (auto& s : g_signals) s.store(0);
  g_exit_after.store(exit_after);
  struct sigaction action {};
  action.sa_handler = on_supervisor_signal;
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, SIGINT);  // one handler at a time
  sigaddset(&action.sa_mask, SIGTERM);
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

void restore_handlers() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
  g_forwarding.store(false);
}

// ---- starting a child ----------------------------------------------------------------------
// Everything the child needs is made before fork(): between fork and exec the child of a
// multi-threaded process may only call async-signal-safe functions.

struct Stream {
  int fd = -1;     // the descriptor it replaces
  int flags = -1;  // open() flags; -1: inherit
  std::string file;
};

Stream stream_of(const Redirect& r, int fd) {
  switch (r.kind) {
    case Redirect::Kind::kInherit:
      return {fd, -1, ""};
    case Redirect::Kind::kNull:
      return {fd, fd == STDIN_FILENO ? O_RDONLY : O_WRONLY, "/dev/null"};
    case Redirect::Kind::kRead:
      return {fd, O_RDONLY, r.file.string()};
    case Redirect::Kind::kTruncate:
      return {fd, O_WRONLY | O_CREAT | O_TRUNC, r.file.string()};
    case Redirect::Kind::kAppend:
      return {fd, O_WRONLY | O_CREAT | O_APPEND, r.file.string()};
  }
  return {fd, -1, ""};
}

std::vector<std::string> child_environment(const ChildSpec& spec) {
  auto replaced = [&](const std::string& name) {
    return std::find(spec.unset_env.begin(), spec.unset_env.end(), name) != spec.unset_env.end() ||
           std::any_of(spec.set_env.begin(), spec.set_env.end(),
                       [&](const auto& kv) { return kv.first == name; });
  };
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    if (!replaced(entry.substr(0, entry.find('=')))) env.push_back(entry);
  }
  for (const auto& [name, value] : spec.set_env) env.push_back(name + "=" + value);
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& texts) {
  std::vector<char*> p;
  for (std::string& t : texts) p.push_back(t.data());
  p.push_back(nullptr);
  return p;
}

// What the child reports through the pipe when it cannot start: which step failed, and errno.
struct StartFailure {
  int step = 0;  // 0: exec, 1 + fd: the redirection of that descriptor
  int error = 0;
};

[[noreturn]] void fail_in_child(int pipe_fd, int step) {
  const StartFailure failure{step, errno};
  ssize_t ignored = ::write(pipe_fd, &failure, sizeof(failure));
  (void)ignored;
  ::_exit(127);
}

// The child's side, between fork and exec.
[[noreturn]] void become_child(const ChildSpec& spec, pid_t parent, const Stream (&streams)[3],
                               char* const* argv, char* const* envp, int pipe_fd) {
  if (spec.own_group) ::setpgid(0, 0);
  if (spec.die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // the parent died before the line above
  }
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (const Stream& s : streams) {
    if (s.flags < 0) continue;
    const int fd = ::open(s.file.c_str(), s.flags | O_CLOEXEC, 0644);
    if (fd < 0) fail_in_child(pipe_fd, 1 + s.fd);
    if (fd == s.fd) {
      ::fcntl(fd, F_SETFD, 0);  // the stream was closed: open() gave its number; keep it at exec
    } else {
      if (::dup2(fd, s.fd) < 0) fail_in_child(pipe_fd, 1 + s.fd);
      ::close(fd);
    }
  }
  ::execve(spec.program.c_str(), argv, envp);
  fail_in_child(pipe_fd, 0);
}

// The error spawn() throws for a child that reported `failure`.
std::runtime_error start_error(const ChildSpec& spec, const Stream (&streams)[3],
                               const StartFailure& failure) {
  const std::string reason = std::strerror(failure.error);
  if (failure.step == 0) return std::runtime_error("cannot start " + spec.program + ": " + reason);
  static const char* const kNames[] = {"stdin", "stdout", "stderr"};
  const int fd = std::clamp(failure.step - 1, 0, 2);
  return std::runtime_error("cannot start " + spec.program + ": cannot open " + streams[fd].file +
                            " for its " + kNames[fd] + ": " + reason);
}

}  // namespace

// ---- ExitStatus ----------------------------------------------------------------------------

bool ExitStatus::exited() const { return WIFEXITED(status_); }
bool ExitStatus::signaled() const { return WIFSIGNALED(status_); }
int ExitStatus::code() const { return exited() ? WEXITSTATUS(status_) : -1; }
int ExitStatus::signal() const { return signaled() ? WTERMSIG(status_) : 0; }

std::string describe(const ExitStatus& status) {
  if (status.exited()) return "exit code " + std::to_string(status.code());
  if (status.signaled()) {
    const char* name = ::strsignal(status.signal());
    return "signal " + std::to_string(status.signal()) + " (" + (name ? name : "?") + ")";
  }
  return "status " + std::to_string(status.raw());
}

bool ended_by_stop(const ExitStatus& status) {
  if (status.signaled()) return status.signal() == SIGINT || status.signal() == SIGTERM;
  return status.exited() &&
         (status.code() == 130 || status.code() == 128 + SIGINT || status.code() == 128 + SIGTERM);
}

// ---- Supervisor ----------------------------------------------------------------------------

Supervisor::Supervisor(SupervisorOptions options) : options_(std::move(options)) {
  if (options_.forward_signals > 0) {
    install_handlers(options_.exit_on_extra_signal ? options_.forward_signals : 0);
    handlers_installed_ = true;
  }
}

Supervisor::~Supervisor() {
  if (running() > 0) {
    signal_all(SIGTERM);
    const auto kill_at = Clock::now() + options_.kill_grace;
    while (running() > 0 && Clock::now() < kill_at) {
      if (!reap_one()) std::this_thread::sleep_for(kPoll);
    }
    signal_all(SIGKILL);
    while (running() > 0) {
      if (!reap_one()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  if (handlers_installed_) restore_handlers();
}

std::size_t Supervisor::spawn(const ChildSpec& spec) {
  if (spec.argv.empty()) throw std::invalid_argument("spawn " + spec.program + ": empty argv");
  std::vector<std::string> argv_text = spec.argv;
  std::vector<std::string> env_text = child_environment(spec);
  const std::vector<char*> argv = pointers(argv_text);
  const std::vector<char*> envp = pointers(env_text);
  const Stream streams[3] = {stream_of(spec.in, STDIN_FILENO), stream_of(spec.out, STDOUT_FILENO),
                             stream_of(spec.err, STDERR_FILENO)};
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    throw std::runtime_error("cannot start " + spec.program + ": pipe: " + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) become_child(spec, parent, streams, argv.data(), envp.data(), report[1]);
  const int fork_error = errno;
  ::close(report[1]);
  if (pid < 0) {
    ::close(report[0]);
    throw std::runtime_error("cannot start " + spec.program +
                             ": fork: " + std::strerror(fork_error));
  }
  // The pipe closes at exec (O_CLOEXEC): no bytes means the program runs.
  StartFailure failure;
  ssize_t got = -1;
  do {
    got = ::read(report[0], &failure, sizeof(failure));
  } while (got < 0 && errno == EINTR);
  ::close(report[0]);
  if (got == static_cast<ssize_t>(sizeof(failure))) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    throw start_error(spec, streams, failure);
  }
  children_.push_back(Child{pid, true, false});
  return children_.size() - 1;
}

pid_t Supervisor::pid(std::size_t child) const { return children_.at(child).pid; }

std::size_t Supervisor::running() const {
  return static_cast<std::size_t>(
      std::count_if(children_.begin(), children_.end(), [](const Child& c) { return c.running; }));
}

void Supervisor::signal_all(int signal_number) {
  for (const Child& c : children_) {
    if (c.running) ::kill(c.pid, signal_number);
  }
}

int Supervisor::stop_signal() const { return handlers_installed_ ? g_signals[0].load() : 0; }

int Supervisor::signals_received() const { return handlers_installed_ ? g_signal_count.load() : 0; }

void Supervisor::forward_pending_signals() {
  if (!handlers_installed_) return;
  const int received = std::min(g_signal_count.load(), options_.forward_signals);
  while (forwarded_ < received && forwarded_ < kRemembered) {
    const int signal_number = g_signals[forwarded_].load();
    if (signal_number == 0) break;  // the handler is still writing it down
    ++forwarded_;
    signal_all(signal_number);
  }
}

void Supervisor::keep_grace_periods() {
  const auto now = Clock::now();
  if (terminate_at_ && now >= *terminate_at_) {
    terminate_at_.reset();
    if (running() > 0) {
      if (options_.on_terminate) options_.on_terminate();
      for (Child& c : children_) c.stopped_by_supervisor = c.stopped_by_supervisor || c.running;
      signal_all(SIGTERM);
      kill_at_ = now + options_.kill_grace;
    }
  }
  if (kill_at_ && now >= *kill_at_) {
    kill_at_.reset();
    if (running() > 0) {
      if (options_.on_kill) options_.on_kill();
      signal_all(SIGKILL);
    }
  }
}

void Supervisor::start_failure_grace(const ChildExit& exit) {
  if (exit.status.success() || failure_seen_) return;
  failure_seen_ = true;
  // After a forwarded stop the children end by themselves (a stop is no failure to act on).
  if (options_.failure_grace && forwarded_ == 0 && signals_received() == 0) {
    terminate_at_ = Clock::now() + *options_.failure_grace;
  }
}

std::optional<ChildExit> Supervisor::try_reap(std::size_t child) {
  Child& c = children_[child];
  if (!c.running) return std::nullopt;
  int status = 0;
  const pid_t done = ::waitpid(c.pid, &status, WNOHANG);
  if (done == 0 || (done < 0 && errno == EINTR)) return std::nullopt;
  // ECHILD: reaped elsewhere (SIGCHLD ignored); its status is lost, counted as exit code 255.
  if (done < 0) status = 255 << 8;
  c.running = false;
  return ChildExit{child, c.pid, ExitStatus(status), c.stopped_by_supervisor};
}

std::optional<ChildExit> Supervisor::reap_one() {
  for (std::size_t i = 0; i < children_.size(); ++i) {
    if (std::optional<ChildExit> exit = try_reap(i)) return exit;
  }
  return std::nullopt;
}

std::optional<ChildExit> Supervisor::wait_any(std::chrono::milliseconds timeout) {
  const bool forever = timeout == std::chrono::milliseconds::max();
  const auto deadline = forever ? Clock::time_point::max() : Clock::now() + timeout;
  for (;;) {
    forward_pending_signals();
    keep_grace_periods();
    if (std::optional<ChildExit> exit = reap_one()) {
      start_failure_grace(*exit);
      return exit;
    }
    if (running() == 0) return std::nullopt;
    const auto now = Clock::now();
    if (now >= deadline) return std::nullopt;
    auto pause = std::chrono::duration_cast<std::chrono::milliseconds>(kPoll);
    if (!forever)
      pause = std::min(pause, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
    std::this_thread::sleep_for(pause);
  }
}

ChildExit Supervisor::wait(std::size_t child) {
  if (!children_.at(child).running) {
    throw std::logic_error("Supervisor::wait: child " + std::to_string(child) + " was reaped");
  }
  for (;;) {
    forward_pending_signals();
    keep_grace_periods();
    if (std::optional<ChildExit> exit = try_reap(child)) {
      start_failure_grace(*exit);
      return *exit;
    }
    std::this_thread::sleep_for(kPoll);
  }
}

std::vector<ChildExit> Supervisor::wait_all() {
  std::vector<ChildExit> exits;
  while (std::optional<ChildExit> exit = wait_any(std::chrono::milliseconds::max())) {
    exits.push_back(*exit);
  }
  return exits;
}

}  // namespace crest
