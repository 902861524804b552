#include "crest/io/run_state.h"

#include <system_error>

#include "crest/config/config.h"
#include "crest/io/generation_files.h"
#include "crest/io/run_files.h"
#include "crest/util/error.h"

namespace crest {

namespace fs = std::filesystem;

RunState inspect_run(const fs::path& run_dir, int expected_generations) {
  RunState state;
  if (!is_run_folder(run_dir)) {
    state.problem = std::string("not started (no ") + kConfigFile + ")";
    return state;
  }
  state.started = true;
  if (expected_generations < 0) {
    try {
      expected_generations = load_config_file((run_dir / kConfigFile).string()).crest.generations;
    } catch (const std::exception& e) {
      state.problem = std::string("unreadable ") + kConfigFile + ": " + e.what();
      return state;
    }
  }
  const fs::path summary_path = run_dir / kRunSummaryFile;
  std::error_code ec;
  if (!fs::exists(summary_path, ec)) {
    state.problem = std::string("unfinished: no ") + kRunSummaryFile +
                    " (failed, stopped or still running; see " + (run_dir / kLogFile).string() +
                    ")";
    return state;
  }
  try {
    const RunSummary summary = read_run_summary(summary_path);
    if (!summary.generations && summary.status != kRunDiverged) {
      throw DataError(summary_path.string() + ": expected a list 'generations'");
    }
    if (summary.status == kRunDiverged) {
      state.problem = "failed: training diverged in generation " +
                      std::to_string(summary.failed_generation.value_or(-1)) +
                      (summary.error.empty() ? "" : " (" + summary.error + ")");
      return state;
    }
    const std::size_t done = summary.generations->size();
    if (done < static_cast<std::size_t>(expected_generations)) {
      state.problem = std::string("unfinished: ") + kRunSummaryFile + " has " +
                      std::to_string(done) + " of " + std::to_string(expected_generations) +
                      " generations";
      return state;
    }
  } catch (const std::exception& e) {
    state.problem = std::string("damaged ") + kRunSummaryFile + ": " + e.what();
    return state;
  }
  state.complete = true;
  return state;
}

}  // namespace crest
