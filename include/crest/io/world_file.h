// RUN/world.json: the number of ranks a multi-rank run trains with (docs/distributed.md). A
// run of one process writes none, so its absence means one rank. A resume must use the same
// number: the per-rank samplers and generators in the checkpoint are one per rank.
//
// RUN/threads.json: the CPU threads that run.threads 0 chose at the run's first start (the
// cores other processes left free then; util/threads.h). A resume uses the same count, since
// results are bit-identical only for the same thread count.
#pragma once

#include <filesystem>

namespace crest {

// The world size recorded in RUN/world.json, 1 when there is none. DataError naming the file
// when it is damaged (not JSON, or world_size is not a whole number >= 1).
int read_world_size(const std::filesystem::path& run_dir);

// Writes RUN/world.json {"world_size": N} atomically (WriteError on failure).
void write_world_size(const std::filesystem::path& run_dir, int world_size);

// InputError when a resume of `run_dir` asks for `world_size` ranks but the run was trained
// with another number; the message names both and what to do.
void check_resume_world_size(const std::filesystem::path& run_dir, int world_size);

// The most threads RUN/threads.json may hold: run.threads' own bound.
inline constexpr int kMaxCpuThreads = 1024;

// The thread count recorded in RUN/threads.json, 0 when there is none. DataError naming the file
// when it is damaged (not JSON, or cpu_threads is not a whole number in 1..kMaxCpuThreads).
int read_recorded_cpu_threads(const std::filesystem::path& run_dir);

// Writes RUN/threads.json {"cpu_threads": N} atomically (WriteError on failure).
void write_recorded_cpu_threads(const std::filesystem::path& run_dir, int threads);

// The CPU threads of a run in `run_dir`, as set by set_cpu_threads (util/device.h).
struct RunThreads {
  int threads = 1;
  bool resume = false;
  int recorded = 0;  // RUN/threads.json's count on resume; 0 = none (a first start, or a run
                     // from before crest recorded it)
};

// set_cpu_threads(configured, ...) with, on resume under run.threads 0 (and no OMP_NUM_THREADS),
// the count RUN/threads.json recorded. Call before the run's first write; DataError when the
// record is damaged.
RunThreads set_run_cpu_threads(const std::filesystem::path& run_dir, int configured, bool resume);

// Once the run folder is the run's own (locked) and its log is open: writes RUN/threads.json
// when there is none (whatever set the count: run.threads, OMP_NUM_THREADS or the free cores),
// and warns when a resume computes with another count than the record (a non-zero run.threads
// or OMP_NUM_THREADS wins): from there on the run is no longer bit-identical to an
// uninterrupted one.
void record_run_cpu_threads(const std::filesystem::path& run_dir, const RunThreads& t);

}  // namespace crest
