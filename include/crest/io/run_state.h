// How far a run folder got, as a sweep (what to skip, resume or start) and a summary (what to
// average in) see it.
#pragma once

#include <filesystem>
#include <string>

namespace crest {

struct RunState {
  bool started = false;   // RUN/config.yaml exists
  bool complete = false;  // RUN/summary.json covers every configured generation
  std::string problem;    // why it is not complete ("" when it is)
};

// Inspects a run folder. `expected_generations` < 0 takes crest.generations from
// RUN/config.yaml (an unreadable config is a problem, not an exception). Never throws for what
// the folder holds: a damaged summary.json is a problem too.
RunState inspect_run(const std::filesystem::path& run_dir, int expected_generations = -1);

}  // namespace crest
