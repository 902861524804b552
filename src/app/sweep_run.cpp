// `crest sweep`, running points: the local launcher (a queue of points, a few at a time, on
// CPU slots or GPUs) and one point by itself (--run-index, what a Slurm array task runs).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

#include "crest/dist/world.h"
#include "crest/io/run_dir.h"
#include "crest/io/run_files.h"
#include "crest/io/run_state.h"
#include "crest/util/error.h"
#include "crest/util/logging.h"
#include "crest/util/signals.h"
#include "crest/util/supervisor.h"
#include "crest/util/text_escape.h"
#include "crest/util/threads.h"
#include "sweep_detail.h"

namespace crest::sweep_detail {

namespace fs = std::filesystem;

namespace {

// The last non-empty line of a log (what a failed child said last), at most 300 characters.
std::string last_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line, last;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  }
  // Drop the console logger's "[hh:mm:ss] error " prefix: the outcome line has its own time.
  static const std::regex prefix(R"(^\[\d\d:\d\d:\d\d\] \w+ )");
  last = std::regex_replace(last, prefix, "");
  if (last.size() > 300) last = last.substr(0, 297) + "...";
  return last;
}

constexpr std::chrono::milliseconds kCollectEvery{100};  // how often the queue looks for room

// A test hook: with CREST_TEST_STOP_AT=<moment> in the environment the sweep sends itself SIGTERM
// at that moment (setup: before the lock and the first point; launch: after the decision to
// start a point, before it starts; spawned: right after a point's process started; collected:
// after a point finished), once, so tests/cli/test_escaping.sh stops a sweep at each moment
// without a timing race.
void test_stop_at(const char* moment) {
  static bool done = false;
  const char* wanted = std::getenv("CREST_TEST_STOP_AT");
  if (done || wanted == nullptr || std::strcmp(wanted, moment) != 0) return;
  done = true;
  ::kill(::getpid(), SIGTERM);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string seconds_text(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f s", seconds);
  return buffer;
}

enum class PointStatus { kFinished, kSkipped, kFailed, kStopped };

const char* status_name(PointStatus status) {
  switch (status) {
    case PointStatus::kFinished:
      return "finished";
    case PointStatus::kSkipped:
      return "skipped";
    case PointStatus::kFailed:
      return "failed";
    case PointStatus::kStopped:
      return "stopped";
  }
  return nullptr;
}

struct Outcome {
  std::size_t index = 0;
  PointStatus status = PointStatus::kFailed;
  std::string detail;
};

struct Running {
  std::size_t child = 0;  // the supervisor's number of its process
  std::size_t point = 0;
  int gpu = -1;
  std::chrono::steady_clock::time_point start;
};

// Starts one point's `crest train` in its folder under `supervisor`. Returns its child number.
std::size_t start_point(Supervisor& supervisor, const SweepPlan& plan, const SweepPoint& point,
                        bool resume, int threads, int gpu, bool own_group) {
  fs::create_directories(point.folder);
  const std::vector<std::string> args = train_args(plan, point, resume, threads, gpu);
  {
    // A header in stderr.log separates the attempts at this point.
    std::ofstream log(point.folder / kStderrLogFile, std::ios::app);
    log << "# crest sweep: " << command_text(crest_executable(), args) << "\n";
  }
  return supervisor.spawn(
      point_process(args, point.folder / kStdoutLogFile, point.folder / kStderrLogFile, own_group));
}

// What became of a point that left with `status`; `stopping`: a stop signal reached the sweep,
// so a point that ended by it (ended_by_stop: also one still starting) is stopped, not failed.
Outcome finish_point(const SweepPoint& point, const ExitStatus& status, double seconds,
                     bool stopping) {
  Outcome outcome;
  outcome.index = point.index;
  if (status.success()) {
    outcome.status = PointStatus::kFinished;
    outcome.detail = seconds_text(seconds);
  } else if (status.exited() && status.code() == 130) {
    outcome.status = PointStatus::kStopped;
    outcome.detail = "checkpoint written; rerun to resume";
  } else if (stopping && ended_by_stop(status)) {
    outcome.status = PointStatus::kStopped;
    outcome.detail = "stopped (" + describe_status(status) + "); rerun to resume";
  } else {
    const fs::path log = point.folder / kStderrLogFile;
    outcome.status = PointStatus::kFailed;
    outcome.detail = describe_status(status) + " after " + seconds_text(seconds) + ": " +
                     last_line(log) + " (" + log.string() + ")";
  }
  return outcome;
}

void report(std::ostream& out, const SweepPlan& plan, const Outcome& o, std::size_t done,
            std::size_t total) {
  const SweepPoint& point = plan.points[o.index];
  const std::string line = "[" + std::to_string(done) + "/" + std::to_string(total) + "] " +
                           status_name(o.status) + " " + std::to_string(point.index) + " " +
                           visible_text(point.name) +
                           (o.detail.empty() ? "" : ": " + visible_text(o.detail));
  spdlog::debug("{}", line);  // for sweep.log; people read it on stdout
  out << line << "\n";
  out.flush();
}

std::vector<int> parse_gpus(const std::string& text) {
  std::vector<int> gpus;
  std::stringstream split(text);
  for (std::string item; std::getline(split, item, ',');) {
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos ||
        item.size() > 4) {
      throw InputError("--gpus " + text + ": expected GPU numbers separated by commas, e.g. 0,1");
    }
    const int gpu = std::stoi(item);
    if (std::find(gpus.begin(), gpus.end(), gpu) != gpus.end()) {
      throw InputError("--gpus " + text + ": GPU " + item + " is listed twice");
    }
    gpus.push_back(gpu);
  }
  if (gpus.empty()) throw InputError("--gpus: give at least one GPU number, e.g. --gpus 0,1");
  return gpus;
}

// The local launcher of one sweep: the queue of points to run, the ones running, the GPUs free
// and what became of each point.
class LocalSweep {
 public:
  // Finished points are reported at once; the others queue in index order.
  LocalSweep(const SweepPlan& plan, const std::vector<std::size_t>& selected,
             const SweepOptions& options, std::ostream& out)
      : plan_(plan), options_(options), out_(out), total_(selected.size()) {
    gpus_ = options.gpus.empty() ? std::vector<int>{} : parse_gpus(options.gpus);
    processes_ = gpus_.empty() ? std::max(1, options.slots) : static_cast<int>(gpus_.size());
    cores_ = available_cores();
    free_gpus_ = gpus_;
    for (std::size_t i : selected) {
      const SweepPoint& p = plan.points[i];
      if (inspect_run(p.folder, point_config(plan, p).crest.generations).complete) {
        ++finished_before_;
        outcomes_.push_back({i, PointStatus::kSkipped, "already finished"});
      } else {
        queue_.push_back(i);
      }
    }
  }

  // The first line: what is selected, finished and to run, and where.
  void print_header() const {
    const std::string where_text =
        gpus_.empty() ? std::to_string(processes_) + " CPU slot(s)"
                      : std::to_string(gpus_.size()) + " GPU(s) (" + options_.gpus + ")";
    out_ << "sweep " << visible_text(plan_.out_dir.string()) << ": " << total_ << " of "
         << plan_.points.size() << " point(s) selected, " << finished_before_
         << " already finished, " << queue_.size() << " to run on " << where_text << "\n";
  }

  // --dry-run: the command of each queued point.
  void print_commands() const {
    for (std::size_t i : queue_) {
      const SweepPoint& p = plan_.points[i];
      const bool resume = inspect_run(p.folder, 0).started;
      const int threads = point_threads(point_config(plan_, p), p.folder, processes_, cores_);
      out_ << (resume ? "resume " : "new    ") << i << " " << visible_text(p.name) << "\n    "
           << command_text(crest_executable(), train_args(plan_, p, resume, threads,
                                                          gpus_.empty() ? -1 : gpus_.front()))
           << (gpus_.empty() ? "" : "  (cuda:N = the GPU free at the time)") << "\n";
    }
  }

  // Runs the queue, `processes` points at a time, until it is empty or a stop signal came and
  // the running points have left. The first SIGINT/SIGTERM is passed on to the running points
  // and leaves the sweep alive while they write their checkpoints (a Slurm step or a terminal
  // that loses the parent kills what is left); another one exits at once, unless it comes
  // within kInsistAfterMs of the first (the same Ctrl-C passed on again: util/signals.h).
  void run() {
    for (const Outcome& o : std::vector<Outcome>(outcomes_))
      report(out_, plan_, o, ++done_, total_);
    SupervisorOptions options;
    options.forward_signals = 1;
    options.exit_on_extra_signal = true;
    supervisor_.emplace(options);
    bool warned = false;
    while (!queue_.empty() || !running_.empty()) {
      const bool stopping = this->stopping();
      while (!this->stopping() && !queue_.empty() &&
             static_cast<int>(running_.size()) < processes_) {
        const std::size_t i = queue_.front();
        queue_.pop_front();
        launch(i);
      }
      if (stopping && !warned && !running_.empty()) {
        warned = true;
        spdlog::warn("stopping: waiting for {} running point(s) to write a checkpoint",
                     running_.size());
      }
      if (running_.empty()) break;
      if (const std::optional<ChildExit> exit = supervisor_->wait_any(kCollectEvery)) {
        collect(*exit);
      }
    }
    stopped_ = stopping();
    supervisor_.reset();
  }

  // The last line; throws when the sweep was stopped (Interrupted, first) or a point failed.
  void finish() const;

 private:
  // A stop signal came: to the supervisor while it runs, or before (install_stop_handlers in
  // run_local), e.g. while the sweep was still setting up.
  bool stopping() const {
    return stop_requested() || (supervisor_ && supervisor_->stop_signal() != 0);
  }

  void record(const Outcome& o) {
    outcomes_.push_back(o);
    report(out_, plan_, o, ++done_, total_);
  }

  // Starts point i on a free GPU (if any); a point that cannot start is failed at once.
  void launch(std::size_t i) {
    const SweepPoint& p = plan_.points[i];
    const bool resume = inspect_run(p.folder, 0).started;
    const int threads = point_threads(point_config(plan_, p), p.folder, processes_, cores_);
    Running r;
    r.point = i;
    if (!free_gpus_.empty()) {
      r.gpu = free_gpus_.front();
      free_gpus_.erase(free_gpus_.begin());
    }
    r.start = std::chrono::steady_clock::now();
    test_stop_at("launch");
    if (stopping()) {  // the stop came after the queue's look: the point waits for the rerun
      if (r.gpu >= 0) free_gpus_.push_back(r.gpu);
      queue_.push_front(i);
      return;
    }
    try {
      // Own process groups: a stop reaches each run once, passed on by the supervisor, never twice
      // (a second signal makes a run leave without its checkpoint).
      r.child = start_point(*supervisor_, plan_, p, resume, threads, r.gpu, true);
    } catch (const std::exception& e) {
      if (r.gpu >= 0) free_gpus_.push_back(r.gpu);
      record({i, PointStatus::kFailed, e.what()});
      return;
    }
    spdlog::info("started {} {}{}{} ({})", i, visible_text(p.name), resume ? " (resume)" : "",
                 r.gpu >= 0 ? " on cuda:" + std::to_string(r.gpu) : "",
                 visible_text((p.folder / kStderrLogFile).string()));
    running_.push_back(r);
    test_stop_at("spawned");
  }

  // Records a point that has left, freeing its GPU.
  void collect(const ChildExit& exit) {
    const auto it = std::find_if(running_.begin(), running_.end(),
                                 [&](const Running& r) { return r.child == exit.child; });
    if (it == running_.end()) return;
    const Outcome o =
        finish_point(plan_.points[it->point], exit.status, seconds_since(it->start), stopping());
    if (it->gpu >= 0) free_gpus_.push_back(it->gpu);
    running_.erase(it);
    record(o);
    test_stop_at("collected");
  }

  const SweepPlan& plan_;
  const SweepOptions& options_;
  std::ostream& out_;
  std::vector<int> gpus_;
  int processes_ = 1;
  int cores_ = 1;
  std::deque<std::size_t> queue_;
  std::vector<Running> running_;
  std::vector<int> free_gpus_;
  std::vector<Outcome> outcomes_;
  std::size_t finished_before_ = 0;
  std::size_t total_ = 0;
  std::size_t done_ = 0;
  std::optional<Supervisor> supervisor_;  // while run() runs
  bool stopped_ = false;                  // a stop signal came during run()
};

void LocalSweep::finish() const {
  std::size_t ran = 0, stopped = 0;
  std::vector<const Outcome*> failed;
  for (const Outcome& o : outcomes_) {
    switch (o.status) {
      case PointStatus::kFinished:
        ++ran;
        break;
      case PointStatus::kStopped:
        ++stopped;
        break;
      case PointStatus::kFailed:
        failed.push_back(&o);
        break;
      case PointStatus::kSkipped:
        break;
    }
  }
  out_ << "sweep done: " << ran << " finished now, " << finished_before_ << " already finished, "
       << failed.size() << " failed, " << stopped << " stopped, " << queue_.size()
       << " not started\n";
  out_.flush();
  std::string list;
  for (const Outcome* o : failed) {
    list += "\n  " + std::to_string(o->index) + " " + visible_text(plan_.points[o->index].name) +
            ": " + visible_text(o->detail);
  }
  // A stop ends as a stop whatever else happened: the user asked for it, and a rerun resumes.
  if (stopped_) {
    throw Interrupted("sweep stopped: " + std::to_string(stopped + queue_.size()) +
                      " point(s) left; run the same command again to resume" +
                      (failed.empty() ? std::string() : "; failed before the stop:" + list));
  }
  if (!failed.empty()) {
    throw std::runtime_error(std::to_string(failed.size()) + " of " + std::to_string(total_) +
                             " sweep point(s) failed:" + list +
                             "\nfix the cause and run the same command again: finished points "
                             "are skipped, the others resumed");
  }
}

}  // namespace

void run_local(const SweepPlan& plan, const std::vector<std::size_t>& selected,
               const SweepOptions& options, std::ostream& out) {
  // A stop from here on ends as a stop (exit 130), however early it comes.
  install_stop_handlers();
  test_stop_at("setup");
  LocalSweep sweep(plan, selected, options, out);
  sweep.print_header();
  if (options.dry_run) {
    sweep.print_commands();
    return;
  }
  RunLock sweep_lock(plan.out_dir);  // one local launcher per sweep folder at a time
  add_log_file(plan.out_dir / kSweepLogFile);
  spdlog::info("sweep {} ({})", visible_text(plan.out_dir.string()),
               visible_text(current_command_line()));
  sweep.run();
  sweep.finish();
}

void run_one(const SweepPlan& plan, std::size_t index, std::ostream& out) {
  const SweepPoint& p = plan.points[index];
  const Config config = point_config(plan, p);
  if (inspect_run(p.folder, config.crest.generations).complete) {
    out << "point " << index << " " << p.name << ": already finished\n";
    return;
  }
  // In a Slurm task the allocation's CPUs are what the run may use.
  int cores = available_cores();
  if (const char* cpus = std::getenv("SLURM_CPUS_PER_TASK")) {
    const int n = std::atoi(cpus);
    if (n > 0) cores = n;
  }
  const bool resume = inspect_run(p.folder, 0).started;
  const int threads = point_threads(config, p.folder, 1, cores);
  install_stop_handlers();
  const auto start = std::chrono::steady_clock::now();
  const dist::RankInfo rank = dist::rank_from_environment();
  if (rank.rank > 0) {
    // A rank above 0 of a data-parallel point (srun, --tasks-per-point): it becomes the point's
    // `crest train` beside rank 0, writing nothing into the point's folder; its messages go to
    // the task's own output, and srun sees its exit code.
    spdlog::info("point {} {}: rank {} of {}", index, visible_text(p.name), rank.rank,
                 rank.world_size);
    std::vector<std::string> args = train_args(plan, p, resume, threads, -1);
    args.insert(args.begin(), crest_executable());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    throw std::runtime_error(std::string("cannot start /proc/self/exe: ") + std::strerror(errno));
  }
  spdlog::info("point {} {}{}: {} ({})", index, visible_text(p.name), resume ? " (resume)" : "",
               visible_text(p.folder.string()), visible_text((p.folder / kStderrLogFile).string()));
  // Slurm signals every process of the task; the child stops by itself, this one waits for it
  // (the stop handlers above keep this process alive meanwhile).
  Supervisor supervisor;
  const ChildExit exit =
      supervisor.wait(start_point(supervisor, plan, p, resume, threads, -1, false));
  const Outcome o = finish_point(p, exit.status, seconds_since(start), stop_requested());
  out << "point " << index << " " << visible_text(p.name) << ": " << status_name(o.status) << ": "
      << visible_text(o.detail) << "\n";
  out.flush();
  switch (o.status) {
    case PointStatus::kFinished:
      return;
    case PointStatus::kStopped:
      throw Interrupted("point " + std::to_string(index) + " stopped");
    case PointStatus::kSkipped:
    case PointStatus::kFailed:
      break;
  }
  throw std::runtime_error("point " + std::to_string(index) + " " + visible_text(p.name) +
                           " failed: " + visible_text(o.detail));
}

}  // namespace crest::sweep_detail
