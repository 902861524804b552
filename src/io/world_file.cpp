#include "crest/io/world_file.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <string>

#include "crest/io/run_files.h"
#include "crest/util/device.h"
#include "crest/util/error.h"
#include "json_fields.h"

namespace crest {

namespace {

// The whole number `key` (1 to `most`) of a one-member JSON file; `absent` when there is no
// file.
int read_count_file(const std::filesystem::path& file, const char* key, int absent, int most) {
  if (!std::filesystem::exists(file)) return absent;
  const nlohmann::json j = io_detail::read_json_object(file);
  const auto it = j.find(key);
  if (it == j.end()) throw DataError(file.string() + ": '" + key + "' is missing");
  const int count = io_detail::checked_number<int>(*it, key, file);
  if (count < 1) {
    throw DataError(file.string() + ": '" + key + "' is " + std::to_string(count) +
                    ", expected at least 1");
  }
  if (count > most) {
    throw DataError(file.string() + ": '" + key + "' is " + std::to_string(count) +
                    ", expected at most " + std::to_string(most));
  }
  return count;
}

}  // namespace

int read_world_size(const std::filesystem::path& run_dir) {
  return read_count_file(run_dir / kWorldFile, "world_size", 1, 1 << 20);
}

int read_recorded_cpu_threads(const std::filesystem::path& run_dir) {
  return read_count_file(run_dir / kThreadsFile, "cpu_threads", 0, kMaxCpuThreads);
}

void write_recorded_cpu_threads(const std::filesystem::path& run_dir, int threads) {
  io_detail::write_json_file(run_dir / kThreadsFile, {{"cpu_threads", threads}});
}

RunThreads set_run_cpu_threads(const std::filesystem::path& run_dir, int configured, bool resume) {
  const bool automatic = configured == 0 && std::getenv("OMP_NUM_THREADS") == nullptr;
  RunThreads t;
  t.resume = resume;
  t.recorded = resume ? read_recorded_cpu_threads(run_dir) : 0;
  t.threads = set_cpu_threads(configured, automatic ? t.recorded : 0);
  return t;
}

void record_run_cpu_threads(const std::filesystem::path& run_dir, const RunThreads& t) {
  if (t.recorded == 0) {
    if (t.resume) {
      spdlog::info(
          "{} is missing (a run from before crest recorded it, or removed): recording "
          "{} thread(s) now",
          (run_dir / kThreadsFile).string(), t.threads);
    }
    write_recorded_cpu_threads(run_dir, t.threads);
  } else if (t.threads != t.recorded) {
    spdlog::warn(
        "resuming with {} CPU thread(s) where the run started with {} ({}; a non-zero "
        "run.threads or OMP_NUM_THREADS wins over it): from here on the results are not "
        "bit-identical to an uninterrupted run",
        t.threads, t.recorded, (run_dir / kThreadsFile).string());
  }
}

void write_world_size(const std::filesystem::path& run_dir, int world_size) {
  io_detail::write_json_file(run_dir / kWorldFile, {{"world_size", world_size}});
}

void check_resume_world_size(const std::filesystem::path& run_dir, int world_size) {
  const int recorded = read_world_size(run_dir);
  if (recorded == world_size) return;
  throw InputError("cannot resume " + run_dir.string() + " with " + std::to_string(world_size) +
                   " rank(s): it was trained with " + std::to_string(recorded) + " (" +
                   (run_dir / kWorldFile).string() +
                   "; absent means 1), and its checkpoints hold one sampler and generator per "
                   "rank. Resume with " +
                   (recorded == 1 ? std::string("one process (no --nproc, no RANK/WORLD_SIZE)")
                                  : "--nproc " + std::to_string(recorded) + " (or " +
                                        std::to_string(recorded) + " Slurm tasks)"));
}

}  // namespace crest
