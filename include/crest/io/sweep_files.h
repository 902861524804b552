// The files of a sweep folder (docs/sweeps.md): SWEEP/sweep.json, the planned points (written by
// `crest sweep`, read back by later invocations, Slurm array tasks and `crest summarize`), and
// SWEEP/slurm/submissions.jsonl, one line per sbatch submission.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace crest {

// The version of sweep.json this crest writes and reads.
inline constexpr int kSweepPlanVersion = 1;

// One point of sweep.json.
struct SweepPlanPoint {
  std::size_t index = 0;               // its position (the Slurm array index)
  std::string name;                    // the run folder's name
  std::vector<std::string> overrides;  // KEY=VALUE on the base config
  std::string folder;                  // relative to the sweep folder
};

// sweep.json.
struct SweepPlanFile {
  int version = kSweepPlanVersion;
  std::string grid;               // the grid file ("" when planned from a sweep.json)
  std::string base;               // absolute path of the base config; "" = the quickstart
  std::vector<std::string> keys;  // the grid's axes, in order
  std::vector<std::string> set;   // the fixed overrides, KEY=VALUE
  std::vector<SweepPlanPoint> points;
};

// Writes the plan, pretty-printed, atomically.
void write_sweep_plan(const std::filesystem::path& file, const SweepPlanFile& plan);

// Reads sweep.json. `complete`: every field must be there, the version this crest's, and the
// points' indices 0, 1, ... (what `crest sweep` relies on); otherwise only each point's "folder"
// is read (what `crest summarize` needs to list points that never started). Throws DataError
// "FILE: not a sweep plan written by crest sweep (WHY)", or naming the file it cannot read.
SweepPlanFile read_sweep_plan(const std::filesystem::path& file, bool complete = true);

// One line of slurm/submissions.jsonl.
struct SlurmSubmission {
  std::string job_id;
  std::string array;  // the --array specification submitted
  std::size_t points = 0;
  std::string script;  // the job script's path
};

// Appends a submission to `file` (a log: earlier lines are kept).
void append_slurm_submission(const std::filesystem::path& file, const SlurmSubmission& record);

}  // namespace crest
