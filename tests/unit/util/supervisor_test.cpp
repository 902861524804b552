// The process supervisor on `/bin/sh -c` children: exit codes, a death by a signal, the grace
// kill of a sleeping sibling, signal forwarding, redirections and the environment.
#include "crest/util/supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "crest/util/signals.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

ChildSpec shell(const std::string& script) {
  ChildSpec spec;
  spec.program = "/bin/sh";
  spec.argv = {"sh", "-c", script};
  return spec;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class SupervisorTest : public TempDirTest {};

// Wait statuses as waitpid() writes them: exit code in bits 8-15, a signal in bits 0-6.
ExitStatus exited_with(int code) { return ExitStatus(code << 8); }
ExitStatus killed_by(int signal_number) { return ExitStatus(signal_number); }

// A child ended by a stop (the sweep's stop at any moment: before its handlers, during its
// checkpoint, or its own stop exit) counts as stopped; a real failure does not.
TEST(EndedByStopTest, StopsAndFailuresApart) {
  for (const ExitStatus& s : {exited_with(130), exited_with(128 + SIGTERM),
                              exited_with(128 + SIGINT), killed_by(SIGTERM), killed_by(SIGINT)}) {
    EXPECT_TRUE(ended_by_stop(s)) << describe(s);
  }
  for (const ExitStatus& s : {exited_with(0), exited_with(1), exited_with(2), exited_with(127),
                              killed_by(SIGKILL), killed_by(SIGSEGV), killed_by(SIGABRT)}) {
    EXPECT_FALSE(ended_by_stop(s)) << describe(s);
  }
}

TEST_F(SupervisorTest, ReportsExitCodesInTheOrderTheChildrenEnd) {
  Supervisor supervisor;
  const std::size_t slow = supervisor.spawn(shell("sleep 0.3; exit 3"));
  const std::size_t fast = supervisor.spawn(shell("exit 0"));
  EXPECT_EQ(supervisor.running(), 2u);
  const std::vector<ChildExit> exits = supervisor.wait_all();
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_EQ(exits[0].child, fast);
  EXPECT_TRUE(exits[0].status.success());
  EXPECT_EQ(exits[1].child, slow);
  EXPECT_EQ(exits[1].pid, supervisor.pid(slow));
  EXPECT_TRUE(exits[1].status.exited());
  EXPECT_FALSE(exits[1].status.success());
  EXPECT_EQ(exits[1].status.code(), 3);
  EXPECT_EQ(describe(exits[1].status), "exit code 3");
  EXPECT_EQ(supervisor.running(), 0u);
  EXPECT_FALSE(supervisor.wait_any(milliseconds(10)));  // nothing left to wait for
}

TEST_F(SupervisorTest, ReportsADeathBySignal) {
  Supervisor supervisor;
  const ChildExit exit = supervisor.wait(supervisor.spawn(shell("kill -KILL $$")));
  EXPECT_TRUE(exit.status.signaled());
  EXPECT_EQ(exit.status.signal(), SIGKILL);
  EXPECT_EQ(exit.status.code(), -1);
  EXPECT_FALSE(exit.stopped_by_supervisor);
  EXPECT_EQ(describe(exit.status).rfind("signal 9 (", 0), 0u) << describe(exit.status);
}

TEST_F(SupervisorTest, WaitAnyReturnsNothingWhenTheTimeRunsOut) {
  Supervisor supervisor;
  supervisor.spawn(shell("exec sleep 5"));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(supervisor.wait_any(milliseconds(120)));
  EXPECT_GE(seconds_since(start), 0.1);
  EXPECT_EQ(supervisor.running(), 1u);
  // The destructor stops and reaps what still runs.
}

TEST_F(SupervisorTest, AFailureStopsTheSleepingSiblingAfterTheGrace) {
  int terminations = 0, kills = 0;
  SupervisorOptions options;
  options.failure_grace = milliseconds(200);
  options.kill_grace = milliseconds(5000);
  options.on_terminate = [&] { ++terminations; };
  options.on_kill = [&] { ++kills; };
  Supervisor supervisor(options);
  const std::size_t sleeper = supervisor.spawn(shell("exec sleep 30"));
  const std::size_t failing = supervisor.spawn(shell("exit 4"));
  const auto start = std::chrono::steady_clock::now();
  const std::vector<ChildExit> exits = supervisor.wait_all();
  const double took = seconds_since(start);
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_EQ(exits[0].child, failing);
  EXPECT_EQ(exits[0].status.code(), 4);
  EXPECT_FALSE(exits[0].stopped_by_supervisor);
  EXPECT_EQ(exits[1].child, sleeper);
  EXPECT_EQ(exits[1].status.signal(), SIGTERM);
  EXPECT_TRUE(exits[1].stopped_by_supervisor);
  EXPECT_EQ(terminations, 1);
  EXPECT_EQ(kills, 0);
  EXPECT_GE(took, 0.19);  // the sibling had its grace period
  EXPECT_LT(took, 5.0);
}

TEST_F(SupervisorTest, ASiblingThatIgnoresSigtermIsKilled) {
  int kills = 0;
  SupervisorOptions options;
  options.failure_grace = milliseconds(50);
  options.kill_grace = milliseconds(200);
  options.on_kill = [&] { ++kills; };
  Supervisor supervisor(options);
  // The ignored SIGTERM survives exec: sleep ignores it too.
  const std::size_t stubborn = supervisor.spawn(shell("trap '' TERM; exec sleep 30"));
  supervisor.spawn(shell("sleep 0.1; exit 1"));
  const auto start = std::chrono::steady_clock::now();
  const std::vector<ChildExit> exits = supervisor.wait_all();
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_EQ(exits[1].child, stubborn);
  EXPECT_EQ(exits[1].status.signal(), SIGKILL);
  EXPECT_TRUE(exits[1].stopped_by_supervisor);
  EXPECT_EQ(kills, 1);
  EXPECT_LT(seconds_since(start), 5.0);
}

TEST_F(SupervisorTest, WithoutAFailureGraceTheSiblingsRunOn) {
  Supervisor supervisor;  // the sweep's way: a failed point stops nothing
  const std::size_t other = supervisor.spawn(shell("sleep 0.4; exit 0"));
  supervisor.spawn(shell("exit 1"));
  const std::vector<ChildExit> exits = supervisor.wait_all();
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_EQ(exits[1].child, other);
  EXPECT_TRUE(exits[1].status.success());
}

// Waits until `file` exists (the child's trap is set), at most 5 s.
bool wait_for_file(const fs::path& file) {
  for (int i = 0; i < 500 && !fs::exists(file); ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  return fs::exists(file);
}

TEST_F(SupervisorTest, ForwardsSigintAndSigtermToEveryChildUpToTheLimit) {
  SupervisorOptions options;
  options.forward_signals = 2;
  Supervisor supervisor(options);
  // Each child writes down the signals it gets and ends when the file `finish` appears.
  const std::string got = (dir_ / "got").string();
  const std::string script = "trap 'echo TERM >> " + got + "' TERM; trap 'echo INT >> " + got +
                             "' INT; touch " + (dir_ / "ready").string() + "$CHILD; until [ -e " +
                             (dir_ / "finish").string() + " ]; do sleep 0.05; done";
  for (const char* name : {"0", "1"}) {
    ChildSpec spec = shell(script);
    spec.set_env = {{"CHILD", name}};
    spec.own_group = true;
    supervisor.spawn(spec);
  }
  ASSERT_TRUE(wait_for_file(dir_ / "ready0") && wait_for_file(dir_ / "ready1"));
  ::raise(SIGTERM);  // reaches the supervisor's handler, not the default action
  EXPECT_FALSE(supervisor.wait_any(milliseconds(300)));
  EXPECT_EQ(supervisor.stop_signal(), SIGTERM);
  ::raise(SIGINT);  // the second: forwarded too
  EXPECT_FALSE(supervisor.wait_any(milliseconds(300)));
  ::raise(SIGTERM);  // beyond the limit: recorded, not forwarded
  EXPECT_FALSE(supervisor.wait_any(milliseconds(300)));
  std::ofstream(dir_ / "finish").close();
  const std::vector<ChildExit> exits = supervisor.wait_all();
  ASSERT_EQ(exits.size(), 2u);
  for (const ChildExit& e : exits) EXPECT_TRUE(e.status.success()) << describe(e.status);
  std::vector<std::string> lines;
  std::ifstream in(got);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"INT", "INT", "TERM", "TERM"}));
  EXPECT_EQ(supervisor.stop_signal(), SIGTERM);  // the first
  EXPECT_EQ(supervisor.signals_received(), 3);
}

// One Ctrl-C passed on again by a wrapper (util/signals.h) is not "the user insists": only a
// signal kInsistAfterMs or more after the first ends the process.
TEST_F(SupervisorTest, ExtraSignalsSoonAfterTheFirstDoNotEndTheProcess) {
  EXPECT_EXIT(
      {
        SupervisorOptions options;
        options.forward_signals = 1;
        options.exit_on_extra_signal = true;
        Supervisor supervisor(options);
        ::raise(SIGTERM);
        ::raise(SIGINT);
        ::raise(SIGINT);
        if (supervisor.signals_received() != 3) std::_Exit(3);
        set_insist_after_ms(0);
        ::raise(SIGINT);
        std::_Exit(4);  // not reached
      },
      ::testing::ExitedWithCode(128 + SIGINT), "");
}

TEST_F(SupervisorTest, ForwardingEndsWithTheSupervisor) {
  struct sigaction before {};
  sigaction(SIGTERM, nullptr, &before);
  {
    SupervisorOptions options;
    options.forward_signals = 1;
    Supervisor supervisor(options);
    struct sigaction during {};
    sigaction(SIGTERM, nullptr, &during);
    EXPECT_NE(during.sa_handler, before.sa_handler);
    // One forwarding supervisor at a time: the handlers are the process's.
    EXPECT_THROW(Supervisor{options}, std::logic_error);
  }
  struct sigaction after {};
  sigaction(SIGTERM, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
  Supervisor plain;  // no forwarding: no signal is recorded
  EXPECT_EQ(plain.stop_signal(), 0);
}

TEST_F(SupervisorTest, RedirectsStreamsToFiles) {
  std::ofstream(dir_ / "in.txt") << "from stdin\n";
  std::ofstream(dir_ / "err.log") << "earlier\n";
  std::ofstream(dir_ / "out.log") << "overwritten\n";
  ChildSpec spec = shell("cat; echo to stderr >&2");
  spec.in = Redirect::read(dir_ / "in.txt");
  spec.out = Redirect::truncate(dir_ / "out.log");
  spec.err = Redirect::append(dir_ / "err.log");
  Supervisor supervisor;
  EXPECT_TRUE(supervisor.wait(supervisor.spawn(spec)).status.success());
  EXPECT_EQ(read_text(dir_ / "out.log"), "from stdin\n");
  EXPECT_EQ(read_text(dir_ / "err.log"), "earlier\nto stderr\n");

  ChildSpec quiet = shell("echo hidden; cat");
  quiet.in = Redirect::null();  // cat reads nothing and ends
  quiet.out = Redirect::null();
  quiet.err = Redirect::truncate(dir_ / "quiet.log");
  EXPECT_TRUE(supervisor.wait(supervisor.spawn(quiet)).status.success());
  EXPECT_EQ(read_text(dir_ / "quiet.log"), "");
}

TEST_F(SupervisorTest, AddsAndRemovesEnvironmentVariables) {
  ::setenv("CREST_SUPERVISOR_KEPT", "kept", 1);
  ::setenv("CREST_SUPERVISOR_GONE", "gone", 1);
  ::setenv("CREST_SUPERVISOR_REPLACED", "old", 1);
  ChildSpec spec = shell(
      "echo \"$CREST_SUPERVISOR_KEPT,${CREST_SUPERVISOR_GONE-unset},$CREST_SUPERVISOR_REPLACED,"
      "$CREST_SUPERVISOR_NEW\"; env | grep -c '^CREST_SUPERVISOR_REPLACED='");
  spec.set_env = {{"CREST_SUPERVISOR_REPLACED", "new"}, {"CREST_SUPERVISOR_NEW", "a=b c"}};
  spec.unset_env = {"CREST_SUPERVISOR_GONE"};
  spec.out = Redirect::truncate(dir_ / "env.txt");
  Supervisor supervisor;
  EXPECT_TRUE(supervisor.wait(supervisor.spawn(spec)).status.success());
  EXPECT_EQ(read_text(dir_ / "env.txt"), "kept,unset,new,a=b c\n1\n");
  EXPECT_STREQ(std::getenv("CREST_SUPERVISOR_GONE"), "gone");  // this process's is untouched
  ::unsetenv("CREST_SUPERVISOR_KEPT");
  ::unsetenv("CREST_SUPERVISOR_GONE");
  ::unsetenv("CREST_SUPERVISOR_REPLACED");
}

TEST_F(SupervisorTest, AChildThatCannotStartThrowsNamingWhy) {
  Supervisor supervisor;
  ChildSpec missing;
  missing.program = "/nonexistent/crest";
  missing.argv = {"crest"};
  expect_error<std::runtime_error>(
      [&] { supervisor.spawn(missing); },
      {"cannot start /nonexistent/crest", "No such file or directory"});
  ChildSpec spec = shell("exit 0");
  spec.out = Redirect::append(dir_ / "missing" / "out.log");
  expect_error<std::runtime_error>([&] { supervisor.spawn(spec); },
                                   {"cannot start /bin/sh", "missing/out.log", "stdout"});
  EXPECT_EQ(supervisor.running(), 0u);  // nothing left behind to reap
}

}  // namespace
}  // namespace crest
