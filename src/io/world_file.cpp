#include "crest/io/world_file.h"

#include <string>

#include "crest/io/run_files.h"
#include "crest/util/error.h"
#include "json_fields.h"

namespace crest {

int read_world_size(const std::filesystem::path& run_dir) {
  const std::filesystem::path file = run_dir / kWorldFile;
  if (!std::filesystem::exists(file)) return 1;
  const nlohmann::json j = io_detail::read_json_object(file);
  const auto it = j.find("world_size");
  if (it == j.end()) throw DataError(file.string() + ": 'world_size' is missing");
  const int size = io_detail::checked_number<int>(*it, "world_size", file);
  if (size < 1) {
    throw DataError(file.string() + ": 'world_size' is " + std::to_string(size) +
                    ", expected at least 1");
  }
  return size;
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
