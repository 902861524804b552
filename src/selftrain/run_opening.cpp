#include "run_opening.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>
#include <string>

#include "crest/data/prepare.h"
#include "crest/io/manifest.h"
#include "crest/io/run_dir.h"
#include "crest/io/run_files.h"
#include "crest/util/error.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

std::string no_run_to_resume(const fs::path& run_dir) {
  return "--resume: " + run_dir.string() + " holds no crest run to resume (no " + kConfigFile +
         "); check the folder (--out / run.out_dir), or drop --resume to start a new run";
}

// A resume may give the run more generations (crest.generations raised), never fewer: the
// generations it has are its record.
void check_more_generations(const fs::path& run_dir, const Config& stored, const Config& config) {
  const int had = stored.crest.generations;
  const int asked = config.crest.generations;
  if (asked < had) {
    throw InputError("cannot resume " + run_dir.string() + " with crest.generations " +
                     std::to_string(asked) + ": the run has " + std::to_string(had) +
                     " generations planned, and a resume can add generations, not remove them; "
                     "to use an earlier generation's model, give crest evaluate/predict/export "
                     "--generation K");
  }
  if (asked == had) return;
  spdlog::info("crest.generations raised from {} to {}: generations {}..{} are added to the run",
               had, asked, had, asked - 1);
  const CrestConfig& cc = config.crest;
  // t_0 is 1 under every schedule, so a run of one generation continues exactly.
  if (aligns_distribution(cc.mode) && cc.t_schedule == TemperatureSchedule::kLinear &&
      cc.t_min != 1.0 && had >= 2) {
    spdlog::warn(
        "crest.t_schedule linear: t_g runs from 1 to crest.t_min over all the generations, so "
        "generations 1..{} trained with the {}-generation schedule and the new ones follow the "
        "{}-generation one; the continued run is not the run a {}-generation start gives "
        "(crest.mode crest, crest.t_schedule constant and runs of one generation continue "
        "exactly)",
        had - 1, had, asked, asked);
  }
}

// Guards the run folder: a folder holding another run is never reused silently, and a resume
// must use the run's own config (the device and folder may change).
void check_existing_run(const fs::path& run_dir, const Config& config, bool resume) {
  const fs::path stored_path = run_dir / kConfigFile;
  if (!fs::exists(stored_path)) {
    if (resume) throw InputError(no_run_to_resume(run_dir));
    return;
  }
  if (!resume && !holds_run(run_dir)) return;  // its first run failed before loading its data
  if (!resume) {
    throw InputError("the run folder " + run_dir.string() + " already holds a run (" + kConfigFile +
                     "); pass --resume to continue it, or choose another run.out_dir (--out DIR)");
  }
  const Config stored = load_stored_config(stored_path.string());
  // Where and how fast a run computes (and whether it writes TensorBoard files) may change on
  // resume; what it computes may not. (A different thread count still gives a valid run, though
  // not a bit-identical one.)
  Config mine = config;
  check_more_generations(run_dir, stored, config);
  mine.crest.generations = stored.crest.generations;
  mine.run.device = stored.run.device;
  mine.run.out_dir = stored.run.out_dir;
  mine.run.threads = stored.run.threads;
  mine.run.tensorboard = stored.run.tensorboard;
  const std::string differences = config_differences_text(stored, mine, "run");
  if (!differences.empty()) {
    throw InputError("cannot resume " + run_dir.string() + ": it belongs to another config (" +
                     differences + "\nresume with the run's own config (" + stored_path.string() +
                     ") or choose another run.out_dir");
  }
}

// The split manifest, through the sink; on resume it must describe the same data.
void record_split(RunSession& session, const DataConfig& data, const PreparedData& prepared) {
  const nlohmann::json manifest = split_manifest(data, prepared);
  const fs::path path = session.dir() / kSplitManifestFile;
  if (fs::exists(path)) {
    const std::string differences = manifest_differences(read_split_manifest(path), manifest);
    if (!differences.empty()) {
      throw InputError(path.string() +
                       " describes another split than this config and data give:" + differences +
                       "\nother data.* settings (such as data.fold or data.imbalance_ratio), "
                       "changed dataset files, or an edited manifest: use the settings and data "
                       "it was written for, put the original manifest back, or choose another "
                       "--out");
    }
  }
  session.sink().split_manifest(path, manifest);
}

}  // namespace

// How `crest train` opens its folder (io/run_session.h): it must be ours, hold the run to resume
// (before the lock creates a mistyped folder), and, on resume, the same config.
SessionOptions training_session(const Config& config, bool resume) {
  SessionOptions options;
  options.kind = SessionKind::kTraining;
  options.resume = resume;
  options.banner = "run folder";
  options.check_folder = [resume](const fs::path& run_dir) {
    if (fs::exists(run_dir / kPretrainRecordFile)) {
      throw InputError(run_dir.string() + " holds a crest pre-training (" + kPretrainRecordFile +
                       "), not a training run: train into another folder (--out DIR) and start "
                       "from its backbone with --set model.init_from=" +
                       (run_dir / kBackboneFile).string());
    }
    check_run_folder_is_ours(run_dir, "--out / run.out_dir");
    if (resume && !fs::exists(run_dir / kConfigFile)) {
      throw InputError(no_run_to_resume(run_dir));
    }
  };
  options.check_locked = [&config, resume](const fs::path& run_dir) {
    check_existing_run(run_dir, config, resume);
  };
  return options;
}

// The data, rank 0 first (it may decode and cache images, and records the split), then on the
// device.
RunData load_run_data(RunSession& session, const Config& config) {
  std::optional<PreparedData> prepared;
  session.rank_zero_first("run_opened", [&] {
    prepared.emplace(prepare_data(config.data, decoded_cache_dir(config.data, session.dir())));
  });
  // Before any rank compares the split with the folder's, the ranks compare it with each other's.
  session.check_ranks_agree(config, split_manifest(config.data, *prepared));
  session.on_every_rank("recording the split",
                        [&] { record_split(session, config.data, *prepared); });
  return make_run_data(*prepared, session.device());
}

}  // namespace crest
