// RUN/world.json: the number of ranks a multi-rank run trains with (docs/distributed.md). A
// run of one process writes none, so its absence means one rank. A resume must use the same
// number: the per-rank samplers and generators in the checkpoint are one per rank.
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

}  // namespace crest
