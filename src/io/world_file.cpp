#include "crest/io/world_file.h"

#include <cstdlib>
#include <string>

#include "crest/io/run_files.h"
#include "crest/util/device.h"
#include "crest/util/error.h"
#include "json_fields.h"

namespace crest {

namespace {

// The whole number `key` (>= 1) of a one-member JSON file; `absent` when there is no file.
int read_count_file(const std::filesystem::path& file, const char* key, int absent) {
  if (!std::filesystem::exists(file)) return absent;
  const nlohmann::json j = io_detail::read_json_object(file);
  const auto it = j.find(key);
  if (it == j.end()) throw DataError(file.string() + ": '" + key + "' is missing");
  const int count = io_detail::checked_number<int>(*it, key, file);
  if (count < 1) {
    throw DataError(file.string() + ": '" + key + "' is " + std::to_string(count) +
                    ", expected at least 1");
  }
  return count;
}

}  // namespace

int read_world_size(const std::filesystem::path& run_dir) {
  return read_count_file(run_dir / kWorldFile, "world_size", 1);
}

int read_recorded_cpu_threads(const std::filesystem::path& run_dir) {
  return read_count_file(run_dir / kThreadsFile, "cpu_threads", 0);
}

void write_recorded_cpu_threads(const std::filesystem::path& run_dir, int threads) {
  io_detail::write_json_file(run_dir / kThreadsFile, {{"cpu_threads", threads}});
}

RunThreads set_run_cpu_threads(const std::filesystem::path& run_dir, int configured, bool resume) {
  const bool automatic = configured == 0 && std::getenv("OMP_NUM_THREADS") == nullptr;
  const int recorded = resume && automatic ? read_recorded_cpu_threads(run_dir) : 0;
  RunThreads t;
  t.threads = set_cpu_threads(configured, recorded);
  t.record = automatic && recorded == 0;
  return t;
}

void record_run_cpu_threads(const std::filesystem::path& run_dir, const RunThreads& t) {
  if (t.record) write_recorded_cpu_threads(run_dir, t.threads);
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
