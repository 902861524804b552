#include "crest/app/sweep.h"

#include <algorithm>
#include <set>

#include "crest/config/config.h"
#include "crest/dist/world.h"
#include "crest/io/run_dir.h"
#include "crest/io/run_files.h"
#include "crest/io/run_state.h"
#include "crest/io/sweep_files.h"
#include "crest/util/error.h"
#include "crest/util/text_escape.h"
#include "sweep_detail.h"

namespace crest {

namespace fs = std::filesystem;

// Helpers shared with sweep_run.cpp and sweep_slurm.cpp (declared in sweep_detail.h).
namespace sweep_detail {

// ---- plans and run folders -----------------------------------------------------------------

std::string plan_file(const SweepPlan& plan) { return (plan.out_dir / kSweepPlanFile).string(); }

SweepPlanFile plan_record(const SweepPlan& plan) {
  SweepPlanFile record;
  record.grid = plan.grid_file;
  record.base = plan.base;
  record.keys = plan.keys;
  record.set = plan.fixed;
  for (const SweepPoint& p : plan.points) {
    record.points.push_back({p.index, p.name, p.overrides, p.folder.filename().string()});
  }
  return record;
}

Config point_config(const SweepPlan& plan, const SweepPoint& point) {
  try {
    return resolve_config(plan.base, point.overrides);
  } catch (const ConfigError& e) {
    throw ConfigError("sweep point " + std::to_string(point.index) + " '" + point.name +
                      "': " + e.what());
  }
}

// The CPU threads a point's process gets: its config's run.threads (available_cores() when 0)
// divided among the processes running at once. A point that already started keeps the value
// it started with, because a resume must match the run's stored config.
int point_threads(const Config& config, const fs::path& folder, int processes, int cores) {
  if (is_run_folder(folder)) {
    try {
      return load_config_file((folder / kConfigFile).string()).run.threads;
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

std::string shell_quote(const std::string& text) { return crest::shell_word(text); }

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

ChildSpec point_process(const std::vector<std::string>& args, const fs::path& stdout_file,
                        const fs::path& stderr_file, bool own_group) {
  ChildSpec spec;
  // /proc/self/exe: the very binary that planned the sweep, even if the file was replaced since.
  spec.program = "/proc/self/exe";
  spec.argv = {crest_executable()};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.in = Redirect::null();
  spec.out = Redirect::append(stdout_file);
  spec.err = Redirect::append(stderr_file);
  spec.own_group = own_group;
  return spec;
}

std::string describe_status(const ExitStatus& status) {
  if (status.exited()) return "exit " + std::to_string(status.code());
  if (status.signaled()) return "killed by signal " + std::to_string(status.signal());
  return "status " + std::to_string(status.raw());
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

// The process counts of the options: --gpus or --slots, none negative, several tasks per point
// only with c10d.
void check_counts(const SweepOptions& o) {
  if (!o.gpus.empty() && o.slots != 0) {
    throw InputError(
        "--gpus and --slots exclude each other: one process per GPU, or --slots "
        "CPU processes");
  }
  if (o.slots < 0 || o.gpus_per_task < 0 || o.cpus_per_task < 0 || o.max_parallel < 0 ||
      o.tasks_per_point < 0) {
    throw InputError(
        "--slots, --gpus-per-task, --cpus-per-task, --tasks-per-point and --max-parallel must be "
        ">= 0");
  }
  if (o.tasks_per_point > 1 && !dist::c10d_available()) {
    throw InputError("--tasks-per-point " + std::to_string(o.tasks_per_point) +
                     ": this build of crest lacks c10d (CREST_WITH_C10D off), so a point cannot "
                     "train on several ranks; rebuild with libgloo-dev installed");
  }
}

// Checks the options; returns the launcher (none for --run-index).
std::optional<Launcher> check_options(const SweepOptions& o) {
  if (o.grid.empty() == o.points.empty()) {
    throw InputError(std::string("crest sweep: give either --grid GRID.yaml or --points OUT/") +
                     kSweepPlanFile);
  }
  if (!o.points.empty() && !o.out.empty()) {
    throw InputError(
        std::string("--out goes with --grid; with --points the sweep's folder is where ") +
        kSweepPlanFile + " is");
  }
  const bool slurm_flags = !o.partition.empty() || !o.account.empty() || !o.time.empty() ||
                           !o.mem.empty() || !o.job_name.empty() || o.gpus_per_task != 0 ||
                           o.cpus_per_task != 0 || o.max_parallel != 0 || !o.sbatch_args.empty() ||
                           o.tasks_per_point != 0;
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
            "--cpus-per-task, --tasks-per-point, --max-parallel and --sbatch-arg go with "
            "--launcher slurm (locally, crest train --nproc N runs one point on N ranks)");
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
  check_counts(o);
  return launcher;
}

}  // namespace sweep_detail

using namespace sweep_detail;  // NOLINT: this file's own helpers

void write_or_check_plan(const SweepPlan& plan, bool write) {
  const fs::path file = plan_file(plan);
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    if (!write) return;
    // A sweep goes only into a new or empty folder: one holding something else is the user's.
    if (fs::is_directory(plan.out_dir, ec)) {
      for (const auto& entry : fs::directory_iterator(plan.out_dir, ec)) {
        throw InputError("crest sweep: " + plan.out_dir.string() + " holds " +
                         entry.path().filename().string() + " but no " + kSweepPlanFile +
                         ": it is not a crest sweep folder, and crest writes into nothing else. "
                         "Choose another --out (or out_dir in the grid), or an empty folder");
      }
    }
    write_sweep_plan(file, plan_record(plan));
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
  const SweepPlanFile record = read_sweep_plan(sweep_json);
  SweepPlan plan;
  plan.grid_file = record.grid;
  plan.base = record.base;
  plan.keys = record.keys;
  plan.fixed = record.set;
  plan.out_dir = fs::absolute(sweep_json).lexically_normal().parent_path();
  for (const SweepPlanPoint& p : record.points) {
    plan.points.push_back({p.index, p.name, p.overrides, plan.out_dir / p.folder});
  }
  if (plan.points.empty()) throw InputError(sweep_json.string() + ": lists no points");
  return plan;
}

namespace {

// A point's folder lies in the sweep's folder and is a folder, never a link planted there (a
// run would write wherever it leads).
void check_point_folders(const SweepPlan& plan) {
  for (const SweepPoint& p : plan.points) {
    std::error_code ec;
    const fs::file_status status = fs::symlink_status(p.folder, ec);
    if (fs::is_symlink(status) || (fs::exists(status) && !fs::is_directory(status))) {
      throw InputError("sweep point " + std::to_string(p.index) + " '" + p.name +
                       "': " + p.folder.string() + " is " +
                       (fs::is_symlink(status) ? "a symbolic link" : "not a folder") +
                       "; crest writes a point's run only into a folder of its own inside the "
                       "sweep's folder. Remove or rename it");
    }
  }
}

}  // namespace

void run_sweep(const SweepOptions& options, std::ostream& out) {
  const std::optional<Launcher> launcher = check_options(options);
  SweepPlan plan;
  if (!options.grid.empty()) {
    plan = load_grid(options.grid, options.out);
  } else {
    // --points takes the sweep's folder as well as its sweep.json.
    std::error_code ec;
    const fs::path given = options.points;
    plan = read_plan(fs::is_directory(given, ec) ? given / kSweepPlanFile : given);
    // The points were validated when planned; the base may have changed since.
    for (const SweepPoint& p : plan.points) point_config(plan, p);
  }
  check_point_folders(plan);
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
