#include "crest/app/sweep.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "crest/app/summarize.h"
#include "crest/config/config.h"
#include "crest/io/run_dir.h"
#include "crest/util/error.h"
#include "crest/util/fs.h"
#include "crest/util/logging.h"
#include "crest/util/signals.h"

extern char** environ;

namespace crest {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxPoints = 10000;  // beyond this a grid is surely a typo
constexpr std::size_t kMaxNameLength = 200;
constexpr int kPlanVersion = 1;

// ---- grid parsing ------------------------------------------------------------------------

std::string where(const std::string& source, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return source + ": ";
  return source + ":" + std::to_string(mark.line + 1) + ": ";
}

// apply_override's messages start with "--set KEY=VALUE: "; in a grid the file and line say
// where the value came from instead.
std::string without_set_prefix(const std::string& message, const std::string& assignment) {
  const std::string prefix = "--set " + assignment + ": ";
  return message.compare(0, prefix.size(), prefix) == 0 ? message.substr(prefix.size()) : message;
}

// A grid scalar as the text of a --set value: as written, unless reading it back as YAML
// would change it (e.g. "a: b"), then single-quoted.
std::string override_text(const YAML::Node& node) {
  const std::string text = node.Scalar();
  try {
    const YAML::Node back = YAML::Load(text);
    if (back.IsScalar() && back.Scalar() == text) return text;
  } catch (const YAML::Exception&) {
  }
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += '\'';
    quoted += c;
  }
  return quoted + "'";
}

std::string sanitize(const std::string& text) {
  std::string safe;
  for (char c : text) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                    c == '+' || c == '=' || c == ',' || c == '-';
    safe += ok ? c : '_';
  }
  if (safe.empty() || safe[0] == '.' || safe[0] == '-') safe = "_" + safe;
  return safe;
}

std::string last_part(const std::string& key) {
  const auto dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

// ---- plans and run folders -----------------------------------------------------------------

std::string plan_file(const SweepPlan& plan) { return (plan.out_dir / "sweep.json").string(); }

nlohmann::json plan_json(const SweepPlan& plan) {
  nlohmann::json points = nlohmann::json::array();
  for (const SweepPoint& p : plan.points) {
    points.push_back({{"index", p.index},
                      {"name", p.name},
                      {"overrides", p.overrides},
                      {"folder", p.folder.filename().string()}});
  }
  return {{"version", kPlanVersion}, {"grid", plan.grid_file}, {"base", plan.base},
          {"keys", plan.keys},       {"set", plan.fixed},      {"points", points}};
}

Config point_config(const SweepPlan& plan, const SweepPoint& point) {
  try {
    return resolve_config(plan.base, point.overrides);
  } catch (const ConfigError& e) {
    throw ConfigError("sweep point " + std::to_string(point.index) + " '" + point.name +
                      "': " + e.what());
  }
}

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// The CPU threads a point's process gets: its config's run.threads (every usable core when 0)
// divided among the processes running at once. A point that already started keeps the value
// it started with, because a resume must match the run's stored config.
int point_threads(const Config& config, const fs::path& folder, int processes, int cores) {
  std::error_code ec;
  if (fs::exists(folder / "config.yaml", ec)) {
    try {
      return load_config_file((folder / "config.yaml").string()).run.threads;
    } catch (const std::exception&) {
      return -1;  // the child reports the damaged config itself
    }
  }
  const int total = config.run.threads > 0 ? config.run.threads : cores;
  return std::max(1, total / std::max(1, processes));
}

// The `crest train` arguments of a point (after the executable).
std::vector<std::string> train_args(const SweepPlan& plan, const SweepPoint& point, bool resume,
                                    int threads, int gpu) {
  std::vector<std::string> args = {"train"};
  if (!plan.base.empty()) {
    args.push_back("--config");
    args.push_back(plan.base);
  }
  for (const std::string& o : point.overrides) {
    args.push_back("--set");
    args.push_back(o);
  }
  if (threads > 0) {
    args.push_back("--set");
    args.push_back("run.threads=" + std::to_string(threads));
  }
  args.push_back("--out");
  args.push_back(point.folder.string());
  if (gpu >= 0) {
    args.push_back("--device");
    args.push_back("cuda:" + std::to_string(gpu));
  }
  if (resume) args.push_back("--resume");
  return args;
}

std::string shell_quote(const std::string& text) {
  const bool plain = !text.empty() && text.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789._+=,-/:@%") == std::string::npos;
  if (plain) return text;
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string command_text(const std::string& program, const std::vector<std::string>& args) {
  std::string text = shell_quote(program);
  for (const std::string& a : args) text += " " + shell_quote(a);
  return text;
}

std::string crest_executable() {
  std::error_code ec;
  std::string self = fs::read_symlink("/proc/self/exe", ec).string();
  if (ec) throw std::runtime_error("cannot read /proc/self/exe: " + ec.message());
  const std::string deleted = " (deleted)";  // the binary was rebuilt while this one runs
  if (self.size() > deleted.size() &&
      self.compare(self.size() - deleted.size(), deleted.size(), deleted) == 0) {
    self.resize(self.size() - deleted.size());
  }
  return self;
}

// Starts `program` (argv[0] = `name`) with `args`, stdin from /dev/null and stdout/stderr
// appended to the given files, in a process group of its own when `own_group`. Returns the
// child's pid; throws std::runtime_error when it cannot start.
pid_t spawn(const std::string& program, const std::string& name,
            const std::vector<std::string>& args, const fs::path& stdout_file,
            const fs::path& stderr_file, bool own_group = false) {
  std::vector<std::string> argv_text = {name};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string out_path = stdout_file.string();
  const std::string err_path = stderr_file.string();

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                                            (own_group ? POSIX_SPAWN_SETPGROUP : 0));
  pid_t pid = -1;
  const int status =
      posix_spawn(&pid, program.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (status != 0) {
    throw std::runtime_error("cannot start " + program + ": " + std::strerror(status));
  }
  return pid;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

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

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string seconds_text(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f s", seconds);
  return buffer;
}

// ---- running points -----------------------------------------------------------------------

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
  pid_t pid = -1;
  std::size_t point = 0;
  int gpu = -1;
  std::chrono::steady_clock::time_point start;
};

// Starts one point's `crest train` in its folder. Returns the pid.
pid_t start_point(const SweepPlan& plan, const SweepPoint& point, bool resume, int threads, int gpu,
                  bool own_group) {
  fs::create_directories(point.folder);
  const std::vector<std::string> args = train_args(plan, point, resume, threads, gpu);
  {
    // A header in stderr.log separates the attempts at this point.
    std::ofstream log(point.folder / "stderr.log", std::ios::app);
    log << "# crest sweep: " << command_text(crest_executable(), args) << "\n";
  }
  // /proc/self/exe: the very binary that planned the sweep, even if the file was replaced since.
  return spawn("/proc/self/exe", crest_executable(), args, point.folder / "stdout.log",
               point.folder / "stderr.log", own_group);
}

Outcome finish_point(const SweepPoint& point, int status, double seconds) {
  Outcome outcome;
  outcome.index = point.index;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    outcome.status = PointStatus::kFinished;
    outcome.detail = seconds_text(seconds);
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 130) {
    outcome.status = PointStatus::kStopped;
    outcome.detail = "checkpoint written; rerun to resume";
  } else {
    const fs::path log = point.folder / "stderr.log";
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
                           point.name + (o.detail.empty() ? "" : ": " + o.detail);
  spdlog::debug("{}", line);  // for sweep.log; people read it on stdout
  out << line << "\n";
  out.flush();
}

std::vector<std::size_t> select_points(const SweepPlan& plan, const SweepOptions& options) {
  std::set<std::size_t> chosen;
  for (const std::string& item : options.only) {
    const bool numeric = !item.empty() && item.find_first_not_of("0123456789") == std::string::npos;
    if (numeric) {
      const std::size_t index = std::stoul(item);
      if (index >= plan.points.size()) {
        throw InputError("--only " + item + ": the sweep has points 0-" +
                         std::to_string(plan.points.size() - 1));
      }
      chosen.insert(index);
      continue;
    }
    const auto it = std::find_if(plan.points.begin(), plan.points.end(),
                                 [&](const SweepPoint& p) { return p.name == item; });
    if (it == plan.points.end()) {
      throw InputError("--only " + item + ": no point of " + plan_file(plan) +
                       " has that name (e.g. '" + plan.points.front().name + "')");
    }
    chosen.insert(it->index);
  }
  if (!options.array_indices.empty()) {
    for (std::size_t i :
         parse_index_list(options.array_indices, plan.points.size(), "--array-indices")) {
      chosen.insert(i);
    }
  }
  std::vector<std::size_t> selected;
  if (options.only.empty() && options.array_indices.empty()) {
    for (const SweepPoint& p : plan.points) selected.push_back(p.index);
  } else {
    selected.assign(chosen.begin(), chosen.end());
  }
  if (options.unfinished) {
    std::vector<std::size_t> kept;
    for (std::size_t i : selected) {
      const SweepPoint& p = plan.points[i];
      if (!inspect_run(p.folder, point_config(plan, p).crest.generations).complete) {
        kept.push_back(i);
      }
    }
    selected = kept;
  }
  return selected;
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

void run_local(const SweepPlan& plan, const std::vector<std::size_t>& selected,
               const SweepOptions& options, std::ostream& out) {
  const std::vector<int> gpus =
      options.gpus.empty() ? std::vector<int>{} : parse_gpus(options.gpus);
  const int processes = gpus.empty() ? std::max(1, options.slots) : static_cast<int>(gpus.size());
  const int cores = usable_cores();

  // Finished points are reported at once; the others queue in index order.
  std::deque<std::size_t> queue;
  std::vector<Outcome> outcomes;
  std::size_t finished_before = 0;
  for (std::size_t i : selected) {
    const SweepPoint& p = plan.points[i];
    if (inspect_run(p.folder, point_config(plan, p).crest.generations).complete) {
      ++finished_before;
      outcomes.push_back({i, PointStatus::kSkipped, "already finished"});
    } else {
      queue.push_back(i);
    }
  }
  const std::string where_text =
      gpus.empty() ? std::to_string(processes) + " CPU slot(s)"
                   : std::to_string(gpus.size()) + " GPU(s) (" + options.gpus + ")";
  out << "sweep " << plan.out_dir.string() << ": " << selected.size() << " of "
      << plan.points.size() << " point(s) selected, " << finished_before << " already finished, "
      << queue.size() << " to run on " << where_text << "\n";

  if (options.dry_run) {
    for (std::size_t i : queue) {
      const SweepPoint& p = plan.points[i];
      const bool resume = inspect_run(p.folder, 0).started;
      const int threads = point_threads(point_config(plan, p), p.folder, processes, cores);
      out << (resume ? "resume " : "new    ") << i << " " << p.name << "\n    "
          << command_text(crest_executable(),
                          train_args(plan, p, resume, threads, gpus.empty() ? -1 : gpus.front()))
          << (gpus.empty() ? "" : "  (cuda:N = the GPU free at the time)") << "\n";
    }
    return;
  }

  RunLock sweep_lock(plan.out_dir);  // one local launcher per sweep folder at a time
  add_log_file(plan.out_dir / "sweep.log");
  spdlog::info("sweep {} ({})", plan.out_dir.string(), current_command_line());
  const std::size_t total = selected.size();
  std::size_t done = 0;
  for (const Outcome& o : outcomes) report(out, plan, o, ++done, total);

  // A stop signal leaves the sweep alive while its children write their checkpoints (a Slurm
  // step or a terminal that loses the parent kills what is left); a second one exits at once.
  install_stop_handlers();
  std::vector<Running> running;
  std::vector<int> free_gpus = gpus;
  bool forwarded = false;
  while (!queue.empty() || !running.empty()) {
    const bool stopping = stop_requested();
    while (!stopping && !queue.empty() && static_cast<int>(running.size()) < processes) {
      const std::size_t i = queue.front();
      queue.pop_front();
      const SweepPoint& p = plan.points[i];
      const bool resume = inspect_run(p.folder, 0).started;
      const int threads = point_threads(point_config(plan, p), p.folder, processes, cores);
      Running r;
      r.point = i;
      if (!free_gpus.empty()) {
        r.gpu = free_gpus.front();
        free_gpus.erase(free_gpus.begin());
      }
      r.start = std::chrono::steady_clock::now();
      try {
        // Own process groups: a stop reaches each run once, passed on below, never twice (a
        // second signal makes a run leave without its checkpoint).
        r.pid = start_point(plan, p, resume, threads, r.gpu, true);
      } catch (const std::exception& e) {
        if (r.gpu >= 0) free_gpus.push_back(r.gpu);
        const Outcome o{i, PointStatus::kFailed, e.what()};
        outcomes.push_back(o);
        report(out, plan, o, ++done, total);
        continue;
      }
      spdlog::info("started {} {}{}{} ({})", i, p.name, resume ? " (resume)" : "",
                   r.gpu >= 0 ? " on cuda:" + std::to_string(r.gpu) : "",
                   (p.folder / "stderr.log").string());
      running.push_back(r);
    }
    if (stopping && !forwarded) {
      forwarded = true;
      const int signal_number = stop_signal() != 0 ? stop_signal() : SIGTERM;
      for (const Running& r : running) ::kill(r.pid, signal_number);
      spdlog::warn("stopping: waiting for {} running point(s) to write a checkpoint",
                   running.size());
    }
    if (running.empty()) break;
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid == 0 || (pid < 0 && errno == EINTR)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (pid < 0) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
    const auto it = std::find_if(running.begin(), running.end(),
                                 [&](const Running& r) { return r.pid == pid; });
    if (it == running.end()) continue;
    const Outcome o = finish_point(plan.points[it->point], status, seconds_since(it->start));
    if (it->gpu >= 0) free_gpus.push_back(it->gpu);
    running.erase(it);
    outcomes.push_back(o);
    report(out, plan, o, ++done, total);
  }

  std::size_t ran = 0, stopped = 0;
  std::vector<const Outcome*> failed;
  for (const Outcome& o : outcomes) {
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
  out << "sweep done: " << ran << " finished now, " << finished_before << " already finished, "
      << failed.size() << " failed, " << stopped << " stopped, " << queue.size()
      << " not started\n";
  out.flush();
  if (!failed.empty()) {
    std::string list;
    for (const Outcome* o : failed) {
      list +=
          "\n  " + std::to_string(o->index) + " " + plan.points[o->index].name + ": " + o->detail;
    }
    throw std::runtime_error(std::to_string(failed.size()) + " of " + std::to_string(total) +
                             " sweep point(s) failed:" + list +
                             "\nfix the cause and run the same command again: finished points "
                             "are skipped, the others resumed");
  }
  if (stop_requested()) {
    throw Interrupted("sweep stopped: " + std::to_string(stopped + queue.size()) +
                      " point(s) left; run the same command again to resume");
  }
}

void run_one(const SweepPlan& plan, std::size_t index, std::ostream& out) {
  const SweepPoint& p = plan.points[index];
  const Config config = point_config(plan, p);
  if (inspect_run(p.folder, config.crest.generations).complete) {
    out << "point " << index << " " << p.name << ": already finished\n";
    return;
  }
  // In a Slurm task the allocation's CPUs are what the run may use.
  int cores = usable_cores();
  if (const char* cpus = std::getenv("SLURM_CPUS_PER_TASK")) {
    const int n = std::atoi(cpus);
    if (n > 0) cores = n;
  }
  const bool resume = inspect_run(p.folder, 0).started;
  const int threads = point_threads(config, p.folder, 1, cores);
  install_stop_handlers();
  const auto start = std::chrono::steady_clock::now();
  spdlog::info("point {} {}{}: {} ({})", index, p.name, resume ? " (resume)" : "",
               p.folder.string(), (p.folder / "stderr.log").string());
  const pid_t pid = start_point(plan, p, resume, threads, -1, false);
  int status = 0;
  // Slurm signals every process of the task; the child stops by itself, this one waits for it.
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  }
  const Outcome o = finish_point(p, status, seconds_since(start));
  out << "point " << index << " " << p.name << ": " << status_name(o.status) << ": " << o.detail
      << "\n";
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
  throw std::runtime_error("point " + std::to_string(index) + " " + p.name +
                           " failed: " + o.detail);
}

// ---- Slurm ---------------------------------------------------------------------------------

std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream split(path ? path : "");
  for (std::string dir; std::getline(split, dir, ':');) {
    if (dir.empty()) dir = ".";
    const fs::path candidate = fs::path(dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

void check_directive_value(const std::string& option, const std::string& value) {
  if (value.find_first_of("\r\n") != std::string::npos) {
    throw InputError(option + ": a line break cannot go into a job script");
  }
}

std::string array_spec(const std::vector<std::size_t>& indices, int max_parallel) {
  std::string spec = index_list_text(indices);
  if (max_parallel > 0) spec += "%" + std::to_string(max_parallel);
  return spec;
}

void run_slurm(const SweepPlan& plan, const std::vector<std::size_t>& selected,
               const SweepOptions& options, std::ostream& out) {
  if (selected.empty()) {
    out << "nothing to submit: no point selected (all finished?)\n";
    return;
  }
  const std::string sbatch = options.dry_run ? std::string() : find_on_path("sbatch");
  if (!options.dry_run && sbatch.empty()) {
    throw InputError(
        "sbatch was not found on PATH: Slurm's client commands are not installed "
        "(Debian/Ubuntu: apt-get install slurm-client) or not on PATH. Use "
        "--dry-run to only write the job script, or --launcher local");
  }
  const fs::path slurm_dir = plan.out_dir / "slurm";
  const fs::path script = slurm_dir / "sweep.sbatch";
  write_file_atomic(script, slurm_script(plan, options, crest_executable()));
  ::chmod(script.c_str(), 0755);

  const std::string spec = array_spec(selected, options.max_parallel);
  const std::vector<std::string> args = {"--parsable", "--array=" + spec, script.string()};
  if (options.dry_run) {
    out << "wrote " << script.string() << " (" << plan.points.size()
        << " array task(s), one per point of " << plan_file(plan) << ")\n"
        << "submit " << selected.size() << " task(s) with: " << command_text("sbatch", args)
        << "\n";
    return;
  }
  const fs::path answer = slurm_dir / ".sbatch-output";
  std::error_code ec;
  fs::remove(answer, ec);
  const pid_t pid = spawn(sbatch, "sbatch", args, answer, answer);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  }
  std::string text = read_file(answer);
  fs::remove(answer, ec);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("sbatch failed (" + describe_status(status) + "): " + text +
                             "\nthe job script is " + script.string());
  }
  // --parsable prints "JOBID" or "JOBID;CLUSTER" (warnings, if any, on lines before it).
  std::string id =
      text.substr(text.find_last_of('\n') == std::string::npos ? 0 : text.find_last_of('\n') + 1);
  id = id.substr(0, id.find(';'));
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    throw std::runtime_error("sbatch answered '" + text + "', not a job id");
  }
  const nlohmann::json record = {
      {"job_id", id}, {"array", spec}, {"points", selected.size()}, {"script", script.string()}};
  std::ofstream(slurm_dir / "submissions.jsonl", std::ios::app) << record.dump() << "\n";
  out << "submitted job " << id << ": " << selected.size() << " array task(s) (--array=" << spec
      << ") of " << script.string() << "; task logs: " << (slurm_dir / (id + "_INDEX.out")).string()
      << "\n";
  out.flush();
}

enum class Launcher { kLocal, kSlurm };

const char* launcher_name(Launcher launcher) {
  switch (launcher) {
    case Launcher::kLocal:
      return "local";
    case Launcher::kSlurm:
      return "slurm";
  }
  return nullptr;
}

// Checks the options; returns the launcher (none for --run-index).
std::optional<Launcher> check_options(const SweepOptions& o) {
  if (o.grid.empty() == o.points.empty()) {
    throw InputError("crest sweep: give either --grid GRID.yaml or --points OUT/sweep.json");
  }
  if (!o.points.empty() && !o.out.empty()) {
    throw InputError(
        "--out goes with --grid; with --points the sweep's folder is where "
        "sweep.json is");
  }
  const bool slurm_flags = !o.partition.empty() || !o.account.empty() || !o.time.empty() ||
                           !o.mem.empty() || !o.job_name.empty() || o.gpus_per_task != 0 ||
                           o.cpus_per_task != 0 || o.max_parallel != 0 || !o.sbatch_args.empty();
  const bool local_flags = !o.gpus.empty() || o.slots != 0;
  if (o.run_index >= 0) {
    if (!o.launcher.empty() || slurm_flags || local_flags || o.dry_run || !o.only.empty() ||
        !o.array_indices.empty() || o.unfinished) {
      throw InputError(
          "--run-index runs one point by itself; it takes only --grid or --points "
          "(and --out)");
    }
    return std::nullopt;
  }
  const std::optional<Launcher> launcher = value_named(o.launcher, launcher_name);
  if (!launcher) {
    throw InputError("crest sweep: --launcher must be " + or_list(names_of(launcher_name)) +
                     ", got '" + o.launcher + "'");
  }
  switch (*launcher) {
    case Launcher::kLocal:
      if (slurm_flags) {
        throw InputError(
            "--partition, --account, --time, --mem, --job-name, --gpus-per-task, "
            "--cpus-per-task, --max-parallel and --sbatch-arg go with --launcher slurm");
      }
      break;
    case Launcher::kSlurm:
      if (local_flags) {
        throw InputError(
            "--gpus and --slots go with --launcher local (with Slurm, use "
            "--gpus-per-task and --cpus-per-task)");
      }
      break;
  }
  if (!o.gpus.empty() && o.slots != 0) {
    throw InputError(
        "--gpus and --slots exclude each other: one process per GPU, or --slots "
        "CPU processes");
  }
  if (o.slots < 0 || o.gpus_per_task < 0 || o.cpus_per_task < 0 || o.max_parallel < 0) {
    throw InputError("--slots, --gpus-per-task, --cpus-per-task and --max-parallel must be >= 0");
  }
  return launcher;
}

}  // namespace

std::string point_name(const std::vector<std::string>& keys,
                       const std::vector<std::string>& values) {
  std::map<std::string, int> label_count;
  for (const std::string& k : keys) ++label_count[last_part(k)];
  std::string name;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string label = label_count[last_part(keys[i])] > 1 ? keys[i] : last_part(keys[i]);
    if (!name.empty()) name += ",";
    name += label + "=" + values[i];
  }
  std::string safe = sanitize(name);
  if (safe.size() > kMaxNameLength) {
    const std::string hash = hex64(fnv1a64(name.data(), name.size()));
    safe = safe.substr(0, kMaxNameLength - hash.size() - 1) + "-" + hash;
  }
  return safe;
}

SweepPlan parse_grid(const std::string& yaml_text, const std::string& source,
                     const fs::path& grid_dir, const std::string& out_dir_override) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) +
                      ": not valid YAML: " + e.msg);
  }
  if (!root.IsMap()) {
    throw ConfigError(source + ": a grid file is a mapping with base, out_dir, grid and set");
  }
  SweepPlan plan;
  plan.grid_file = source;
  YAML::Node grid, fixed;
  std::string out_dir;
  for (const auto& item : root) {
    const std::string key = item.first.Scalar();
    const std::string at = where(source, item.first);
    const YAML::Node& value = item.second;
    if (key == "grid") {
      grid = value;
    } else if (key == "set") {
      fixed = value;
    } else if (key == "base" || key == "out_dir") {
      if (!value.IsScalar() || value.Scalar().empty()) {
        throw ConfigError(at + key + " must be a path");
      }
      if (key == "base") {
        const fs::path base(value.Scalar());
        plan.base =
            (base.is_absolute() ? base : fs::absolute(grid_dir / base)).lexically_normal().string();
      } else {
        out_dir = value.Scalar();
      }
    } else {
      throw ConfigError(at + "unknown key '" + key +
                        "'; a grid file holds base, out_dir, grid and set");
    }
  }
  if (!out_dir_override.empty()) out_dir = out_dir_override;
  if (out_dir.empty()) out_dir = "runs/" + fs::path(source).stem().string();
  plan.out_dir = fs::absolute(out_dir).lexically_normal();

  Config base;
  try {
    base = resolve_config(plan.base, {});
  } catch (const ConfigError& e) {
    throw ConfigError(source + ": base: " + e.what());
  }

  // `set`: fixed overrides, each checked on its own.
  std::set<std::string> fixed_keys;
  if (fixed && !fixed.IsNull()) {
    if (!fixed.IsMap()) throw ConfigError(where(source, fixed) + "set must map keys to values");
    for (const auto& item : fixed) {
      const std::string key = item.first.Scalar();
      const std::string at = where(source, item.first) + "set: ";
      if (!item.second.IsScalar()) throw ConfigError(at + key + " must have one value");
      if (key == "run.out_dir") {
        throw ConfigError(at + "run.out_dir is chosen by the sweep (out_dir/point name)");
      }
      const std::string assignment = key + "=" + override_text(item.second);
      Config probe = base;
      try {
        apply_override(probe, assignment);
      } catch (const ConfigError& e) {
        throw ConfigError(at + without_set_prefix(e.what(), assignment));
      }
      fixed_keys.insert(key);
      plan.fixed.push_back(assignment);
    }
  }

  // `grid`: every value of every key checked on its own, so a typo fails before anything runs.
  if (!grid || !grid.IsMap() || grid.size() == 0) {
    throw ConfigError(source +
                      ": grid must map at least one key to its values, e.g. "
                      "'grid: {data.fold: [1, 2, 3]}'");
  }
  const auto check = [&](const std::string& assignment, const std::string& at) {
    Config probe = base;
    try {
      apply_override(probe, assignment);
    } catch (const ConfigError& e) {
      throw ConfigError(at + without_set_prefix(e.what(), assignment));
    }
  };
  std::set<std::string> used_keys = fixed_keys;  // a config key belongs to one place only
  const auto claim = [&](const std::string& key, const std::string& at) {
    if (key == "run.out_dir") {
      throw ConfigError(at + "run.out_dir is chosen by the sweep (out_dir/point name)");
    }
    if (!used_keys.insert(key).second) {
      throw ConfigError(at + key +
                        (fixed_keys.count(key) != 0 ? " is both in grid and in set"
                                                    : " is set by two grid axes") +
                        "; keep one");
    }
  };
  // Per axis, per value: its label (for names) and its overrides.
  std::vector<std::vector<std::string>> labels;
  std::vector<std::vector<std::vector<std::string>>> values;
  std::size_t count = 1;
  for (const auto& item : grid) {
    const std::string axis = item.first.Scalar();
    const std::string at = where(source, item.first) + "grid: ";
    std::vector<std::string> axis_labels;
    std::vector<std::vector<std::string>> axis_values;
    if (item.second.IsMap()) {
      // A named axis: each value is a label and the overrides it stands for, e.g.
      // method: {fixmatch: {crest.mode: fixmatch, crest.generations: 1}, crest: {...}}.
      if (axis.empty() ||
          axis.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos) {
        throw ConfigError(at + "'" + axis +
                          "' maps to named values, so it names an axis: use "
                          "letters, digits, '_' and '-' only (a config key lists its values, "
                          "e.g. data.fold: [1, 2])");
      }
      std::set<std::string> axis_keys;
      for (const auto& entry : item.second) {
        const std::string at_entry = where(source, entry.first) + "grid: " + axis + ": ";
        const std::string label = entry.first.Scalar();
        if (!entry.second.IsNull() && !entry.second.IsMap()) {
          throw ConfigError(at_entry + label +
                            " must map config keys to values, e.g. "
                            "{crest.mode: fixmatch}");
        }
        std::vector<std::string> assignments;
        for (const auto& kv : entry.second) {
          const std::string key = kv.first.Scalar();
          const std::string at_key = where(source, kv.first) + "grid: " + axis + ": ";
          if (!kv.second.IsScalar()) throw ConfigError(at_key + key + " must have one value");
          const std::string assignment = key + "=" + override_text(kv.second);
          check(assignment, at_key);
          if (axis_keys.insert(key).second) claim(key, at_key);
          assignments.push_back(assignment);
        }
        axis_labels.push_back(label);
        axis_values.push_back(assignments);
      }
    } else {
      claim(axis, at);
      std::vector<YAML::Node> nodes;
      if (item.second.IsSequence()) {
        for (const auto& v : item.second) nodes.push_back(v);
      } else if (item.second.IsScalar()) {
        nodes.push_back(item.second);
      }
      if (nodes.empty()) throw ConfigError(at + axis + " must list its values, e.g. [1, 2]");
      for (const YAML::Node& v : nodes) {
        const std::string at_value = where(source, v) + "grid: ";
        if (!v.IsScalar()) throw ConfigError(at_value + axis + ": each value must be a scalar");
        const std::string assignment = axis + "=" + override_text(v);
        check(assignment, at_value);
        axis_labels.push_back(v.Scalar());
        axis_values.push_back({assignment});
      }
    }
    if (axis_labels.empty()) throw ConfigError(at + axis + " has no values");
    for (std::size_t i = 0; i < axis_labels.size(); ++i) {
      if (std::find(axis_labels.begin(), axis_labels.begin() + static_cast<std::ptrdiff_t>(i),
                    axis_labels[i]) != axis_labels.begin() + static_cast<std::ptrdiff_t>(i)) {
        throw ConfigError(at + axis + " lists '" + axis_labels[i] + "' twice");
      }
    }
    if (std::find(plan.keys.begin(), plan.keys.end(), axis) != plan.keys.end()) {
      throw ConfigError(at + axis + " is given twice");
    }
    plan.keys.push_back(axis);
    labels.push_back(axis_labels);
    values.push_back(axis_values);
    count *= axis_values.size();
    if (count > kMaxPoints) {
      throw ConfigError(source + ": the grid has more than " + std::to_string(kMaxPoints) +
                        " points; split it into several sweeps");
    }
  }

  // The cross product, the first key varying slowest; every point validated as a whole.
  std::map<std::string, std::size_t> names;
  for (std::size_t index = 0; index < count; ++index) {
    SweepPoint point;
    point.index = index;
    point.overrides = plan.fixed;
    std::vector<std::string> point_labels;
    std::size_t rest = index;
    std::vector<std::size_t> digits(values.size());
    for (std::size_t k = values.size(); k-- > 0;) {
      digits[k] = rest % values[k].size();
      rest /= values[k].size();
    }
    for (std::size_t k = 0; k < values.size(); ++k) {
      const auto& assignments = values[k][digits[k]];
      point.overrides.insert(point.overrides.end(), assignments.begin(), assignments.end());
      point_labels.push_back(labels[k][digits[k]]);
    }
    point.name = point_name(plan.keys, point_labels);
    point.folder = plan.out_dir / point.name;
    Config config = base;
    try {
      for (const std::string& o : point.overrides) apply_override(config, o);
      validate_config(config);
    } catch (const ConfigError& e) {
      throw ConfigError(source + ": point " + std::to_string(index) + " '" + point.name +
                        "': " + e.what());
    }
    const auto [it, inserted] = names.emplace(point.name, index);
    if (!inserted) {
      throw ConfigError(source + ": points " + std::to_string(it->second) + " and " +
                        std::to_string(index) + " get the same folder name '" + point.name +
                        "' (their values differ only in characters replaced by '_')");
    }
    plan.points.push_back(std::move(point));
  }
  return plan;
}

SweepPlan load_grid(const std::string& grid_path, const std::string& out_dir_override) {
  std::ifstream in(grid_path);
  if (!in) throw ConfigError(grid_path + ": cannot read the grid file");
  std::stringstream text;
  text << in.rdbuf();
  SweepPlan plan =
      parse_grid(text.str(), grid_path, fs::path(grid_path).parent_path(), out_dir_override);
  plan.grid_file = fs::absolute(grid_path).lexically_normal().string();
  return plan;
}

void write_or_check_plan(const SweepPlan& plan, bool write) {
  const fs::path file = plan_file(plan);
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    if (write) write_file_atomic(file, plan_json(plan).dump(2) + "\n");
    return;
  }
  const SweepPlan stored = read_plan(file);
  std::string difference;
  if (stored.base != plan.base) {
    difference = "base " + stored.base + " there, " + plan.base + " now";
  } else if (stored.points.size() != plan.points.size()) {
    difference = std::to_string(stored.points.size()) + " points there, " +
                 std::to_string(plan.points.size()) + " now";
  } else {
    for (std::size_t i = 0; i < plan.points.size() && difference.empty(); ++i) {
      if (stored.points[i].name != plan.points[i].name ||
          stored.points[i].overrides != plan.points[i].overrides) {
        difference = "point " + std::to_string(i) + " is '" + stored.points[i].name + "' there, '" +
                     plan.points[i].name + "' now";
      }
    }
  }
  if (!difference.empty()) {
    throw InputError(file.string() + " was written for another grid (" + difference +
                     "); use another out_dir (--out), or delete " + file.string() +
                     " to re-plan (finished points keep their folders: names depend only on "
                     "their values)");
  }
}

SweepPlan read_plan(const fs::path& sweep_json) {
  SweepPlan plan;
  try {
    const nlohmann::json j = nlohmann::json::parse(read_file(sweep_json));
    if (j.at("version").get<int>() != kPlanVersion) throw std::runtime_error("unknown version");
    plan.grid_file = j.at("grid").get<std::string>();
    plan.base = j.at("base").get<std::string>();
    plan.keys = j.at("keys").get<std::vector<std::string>>();
    plan.fixed = j.at("set").get<std::vector<std::string>>();
    plan.out_dir = fs::absolute(sweep_json).lexically_normal().parent_path();
    for (const auto& p : j.at("points")) {
      SweepPoint point;
      point.index = plan.points.size();
      if (p.at("index").get<std::size_t>() != point.index) {
        throw std::runtime_error("point " + std::to_string(point.index) + " has another index");
      }
      point.name = p.at("name").get<std::string>();
      point.overrides = p.at("overrides").get<std::vector<std::string>>();
      point.folder = plan.out_dir / p.at("folder").get<std::string>();
      plan.points.push_back(std::move(point));
    }
  } catch (const DataError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(sweep_json.string() + ": not a sweep plan written by crest sweep (" +
                     e.what() + ")");
  }
  if (plan.points.empty()) throw InputError(sweep_json.string() + ": lists no points");
  return plan;
}

std::vector<std::size_t> parse_index_list(const std::string& text, std::size_t count,
                                          const std::string& what) {
  std::set<std::size_t> indices;
  std::stringstream split(text);
  const auto bad = [&](const std::string& why) {
    return InputError(what + " " + text + ": " + why + " (e.g. 0-3,7)");
  };
  const auto number = [&](const std::string& s) -> std::size_t {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) {
      throw bad("'" + s + "' is not an index");
    }
    const std::size_t value = std::stoul(s);
    if (value >= count) {
      throw bad(s + " is past the last point, " + std::to_string(count - 1));
    }
    return value;
  };
  for (std::string item; std::getline(split, item, ',');) {
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      indices.insert(number(item));
      continue;
    }
    const std::size_t first = number(item.substr(0, dash));
    const std::size_t last = number(item.substr(dash + 1));
    if (last < first) throw bad("the range " + item + " runs backwards");
    for (std::size_t i = first; i <= last; ++i) indices.insert(i);
  }
  if (indices.empty()) throw bad("no index given");
  return {indices.begin(), indices.end()};
}

std::string index_list_text(std::vector<std::size_t> indices) {
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  std::string text;
  for (std::size_t i = 0; i < indices.size();) {
    std::size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    if (!text.empty()) text += ",";
    text += std::to_string(indices[i]);
    if (j > i) text += (j == i + 1 ? "," : "-") + std::to_string(indices[j]);
    i = j + 1;
  }
  return text;
}

std::string slurm_script(const SweepPlan& plan, const SweepOptions& options,
                         const std::string& crest_executable_path) {
  const std::vector<std::pair<std::string, std::string>> values = {
      {"--partition", options.partition},
      {"--account", options.account},
      {"--time", options.time},
      {"--mem", options.mem},
      {"--job-name", options.job_name}};
  for (const auto& [option, value] : values) check_directive_value(option, value);
  for (const std::string& arg : options.sbatch_args) {
    check_directive_value("--sbatch-arg", arg);
    if (arg.empty() || arg[0] != '-') {
      throw InputError("--sbatch-arg " + arg + ": expected an sbatch option such as --qos=high");
    }
  }
  const fs::path sweep_json = plan_file(plan);
  const fs::path slurm_dir = plan.out_dir / "slurm";
  std::vector<std::size_t> all(plan.points.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  const std::string job_name =
      options.job_name.empty() ? "crest-" + plan.out_dir.filename().string() : options.job_name;

  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Written by `crest sweep --launcher slurm`: one array task per point of\n"
    << "# " << sweep_json.string() << "; task i runs point i (skipped when finished, resumed\n"
    << "# when started). Resubmit some points with: sbatch --array=3,7 "
    << (slurm_dir / "sweep.sbatch").string() << "\n"
    << "#SBATCH --job-name=" << job_name << "\n"
    << "#SBATCH --array=" << array_spec(all, options.max_parallel) << "\n"
    << "#SBATCH --output=" << (slurm_dir / "%A_%a.out").string() << "\n";
  if (!options.partition.empty()) s << "#SBATCH --partition=" << options.partition << "\n";
  if (!options.account.empty()) s << "#SBATCH --account=" << options.account << "\n";
  if (!options.time.empty()) s << "#SBATCH --time=" << options.time << "\n";
  if (!options.mem.empty()) s << "#SBATCH --mem=" << options.mem << "\n";
  if (options.gpus_per_task > 0) s << "#SBATCH --gpus-per-task=" << options.gpus_per_task << "\n";
  if (options.cpus_per_task > 0) s << "#SBATCH --cpus-per-task=" << options.cpus_per_task << "\n";
  for (const std::string& arg : options.sbatch_args) s << "#SBATCH " << arg << "\n";
  s << "exec " << shell_quote(crest_executable_path) << " sweep --points "
    << shell_quote(sweep_json.string()) << " --run-index \"$SLURM_ARRAY_TASK_ID\"\n";
  return s.str();
}

void run_sweep(const SweepOptions& options, std::ostream& out) {
  const std::optional<Launcher> launcher = check_options(options);
  SweepPlan plan;
  if (!options.grid.empty()) {
    plan = load_grid(options.grid, options.out);
  } else {
    plan = read_plan(options.points);
    // The points were validated when planned; the base may have changed since.
    for (const SweepPoint& p : plan.points) point_config(plan, p);
  }
  if (options.run_index >= 0) {
    if (static_cast<std::size_t>(options.run_index) >= plan.points.size()) {
      throw InputError("--run-index " + std::to_string(options.run_index) + ": " + plan_file(plan) +
                       " has points 0-" + std::to_string(plan.points.size() - 1));
    }
    if (!options.grid.empty()) write_or_check_plan(plan, true);
    run_one(plan, static_cast<std::size_t>(options.run_index), out);
    return;
  }
  // A local dry run leaves no trace; a Slurm one writes the plan its script refers to.
  switch (*launcher) {
    case Launcher::kLocal:
      if (!options.grid.empty()) write_or_check_plan(plan, !options.dry_run);
      run_local(plan, select_points(plan, options), options, out);
      break;
    case Launcher::kSlurm:
      if (!options.grid.empty()) write_or_check_plan(plan, true);
      run_slurm(plan, select_points(plan, options), options, out);
      break;
  }
}

}  // namespace crest
