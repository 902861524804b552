// Private to `crest sweep` (src/app/sweep*.cpp): the helpers its launchers share.
#pragma once

#include <cstddef>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "crest/app/sweep.h"
#include "crest/config/config.h"
#include "crest/util/supervisor.h"

namespace crest::sweep_detail {

// OUT/sweep.json of a plan.
std::string plan_file(const SweepPlan& plan);

// `text` quoted for a POSIX shell when it needs quoting.
std::string shell_quote(const std::string& text);

// A command line for people: the program and its arguments, shell-quoted.
std::string command_text(const std::string& program, const std::vector<std::string>& args);

// The path of the running crest executable (what the points and the job script run).
std::string crest_executable();

// A `crest` child process of the sweep (this executable, /proc/self/exe) with `args` after
// argv[0], stdin from /dev/null and its output appended to the two files; with `own_group`, in a
// process group of its own.
ChildSpec point_process(const std::vector<std::string>& args,
                        const std::filesystem::path& stdout_file,
                        const std::filesystem::path& stderr_file, bool own_group);

// "exit N" or "killed by signal S": how a point or sbatch ended, for people.
std::string describe_status(const ExitStatus& status);

// A point's config: the base with the point's overrides; ConfigError names the point.
Config point_config(const SweepPlan& plan, const SweepPoint& point);

// The CPU threads a point's process gets: its config's run.threads (available_cores() when 0)
// divided among the `processes` running at once; a started point keeps its stored value (-1
// when that config cannot be read).
int point_threads(const Config& config, const std::filesystem::path& folder, int processes,
                  int cores);

// The `crest train` arguments of a point (after the executable); `gpu` < 0: no --device.
std::vector<std::string> train_args(const SweepPlan& plan, const SweepPoint& point, bool resume,
                                    int threads, int gpu);

// Runs the selected points locally, --slots CPU processes or one per --gpus GPU at a time
// (with --dry-run, prints their commands); throws when a point failed or a stop signal came.
void run_local(const SweepPlan& plan, const std::vector<std::size_t>& selected,
               const SweepOptions& options, std::ostream& out);

// Runs point `index` in this process's allocation (--run-index) and waits for it; throws when
// it failed or stopped.
void run_one(const SweepPlan& plan, std::size_t index, std::ostream& out);

// Writes the job script and submits it (or, with --dry-run, prints the sbatch command).
void run_slurm(const SweepPlan& plan, const std::vector<std::size_t>& selected,
               const SweepOptions& options, std::ostream& out);

}  // namespace crest::sweep_detail
