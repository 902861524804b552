// `crest sweep`: crosses the values of a grid file over a base config and runs every point as its
// own `crest train`, either locally (a queue over GPUs or CPU slots) or as one Slurm job array.
// The whole grid is validated before anything runs, and the list of points is written to
// OUT/sweep.json, so a rerun (or a Slurm task) sees exactly the same points.
//
// A grid file:
//   base: ../configs/cifar10lt.yaml   # relative to the grid file; omitted = the quickstart
//   out_dir: runs/table1              # relative to the working directory
//   grid:                             # crossed in this order, the first axis slowest
//     data.imbalance_ratio: [50, 100, 200]       # a config key and its values
//     method:                                    # a named axis: each value a set of overrides
//       fixmatch: {crest.mode: fixmatch, crest.generations: 1}
//       crest+: {crest.mode: crest+}
//   set: {run.device: auto}           # fixed overrides of every point
#pragma once

#include <cstddef>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "crest/util/index_list.h"  // parse_index_list, index_list_text

namespace crest {

struct SweepPoint {
  std::size_t index = 0;               // its position in sweep.json (the Slurm array index)
  std::string name;                    // the run folder's name, from the point's grid values
  std::vector<std::string> overrides;  // KEY=VALUE on the base config: `set`, then the grid
  std::filesystem::path folder;        // out_dir / name
};

struct SweepPlan {
  std::string grid_file;           // the grid file ("" when read from a sweep.json)
  std::string base;                // absolute path of the base config; "" = the quickstart
  std::filesystem::path out_dir;   // absolute
  std::vector<std::string> keys;   // the grid's axes (config keys or axis names), in order
  std::vector<std::string> fixed;  // the `set` overrides, KEY=VALUE
  std::vector<SweepPoint> points;
};

// The folder name of a point: `label=value` for each grid axis joined by ',', where the label is
// the key's last part (`mode` for crest.mode; a named axis keeps its name) unless two axes share
// it (then the whole key); `value` is the value as written in the grid, or its name.
// Characters other than letters, digits and `._+=,-` become `_`; names longer than 200
// characters are cut and end in a hash of the full name.
std::string point_name(const std::vector<std::string>& keys,
                       const std::vector<std::string>& values);

// Parses a grid (`source` names it in errors; a relative base resolves against `grid_dir`;
// `out_dir_override`, when not empty, replaces out_dir) and validates every key, every value and
// every point through the config rules. Throws ConfigError naming the grid file (with the line)
// and the key or point.
SweepPlan parse_grid(const std::string& yaml_text, const std::string& source,
                     const std::filesystem::path& grid_dir, const std::string& out_dir_override);

// Reads a grid file and parses it (see parse_grid).
SweepPlan load_grid(const std::string& grid_path, const std::string& out_dir_override);

// OUT/sweep.json (io/sweep_files.h): the base, the keys and every point (name, overrides, folder
// relative to OUT). Writes it when missing (and `write`); when present it must list the same base
// and points, otherwise InputError (the grid changed: use another out_dir, or delete sweep.json to
// re-plan; finished points keep their folders because names depend only on their values).
void write_or_check_plan(const SweepPlan& plan, bool write = true);

// Reads a sweep.json written by write_or_check_plan. Throws InputError naming it.
SweepPlan read_plan(const std::filesystem::path& sweep_json);

struct SweepOptions {
  std::string grid;      // --grid GRID.yaml
  std::string points;    // --points OUT/sweep.json (instead of --grid: no re-planning)
  std::string out;       // --out DIR (replaces the grid's out_dir)
  std::string launcher;  // local | slurm
  bool dry_run = false;  // print (local) or write (slurm) what would run, run nothing
  // Which points: all, or those named (by name or index), in the index list, unfinished.
  std::vector<std::string> only;
  std::string array_indices;
  bool unfinished = false;
  // Run one point, as a Slurm array task does (no launcher); -1 = not this mode.
  long run_index = -1;
  // local
  std::string gpus;  // "0,1": one process per GPU, each point on --device cuda:N
  int slots = 0;     // CPU processes at a time (0 = 1); run.threads is divided among them
  // slurm
  std::string partition;
  std::string account;
  std::string time;
  std::string mem;
  std::string job_name;
  int gpus_per_task = 0;
  int cpus_per_task = 0;
  int tasks_per_point = 0;  // > 1: each point trains data-parallel on that many srun tasks
  int max_parallel = 0;     // array tasks at a time (--array=...%N); 0 = no limit
  std::vector<std::string> sbatch_args;  // passed through as #SBATCH lines
};

// The Slurm job script of a plan: one array task per point, each running
// `crest sweep --points OUT/sweep.json --run-index $SLURM_ARRAY_TASK_ID`.
std::string slurm_script(const SweepPlan& plan, const SweepOptions& options,
                         const std::string& crest_executable);

// The `crest sweep` command. Local: runs the selected points and reports each outcome; throws
// std::runtime_error listing the failed points at the end (exit 1), Interrupted when stopped.
// Slurm: writes OUT/slurm/sweep.sbatch and submits it with sbatch (InputError when sbatch is
// not on PATH), printing the job id. Run-index: runs that one point.
void run_sweep(const SweepOptions& options, std::ostream& out);

}  // namespace crest
