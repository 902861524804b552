#include "crest/app/pretrain.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "crest/data/prepare.h"
#include "crest/io/file.h"
#include "crest/io/json_text.h"
#include "crest/io/manifest.h"
#include "crest/io/pretrain_files.h"
#include "crest/io/run_dir.h"
#include "crest/io/run_files.h"
#include "crest/io/run_session.h"
#include "crest/io/sink.h"
#include "crest/io/world_file.h"
#include "crest/models/wrn_weights.h"
#include "crest/selftrain/run_data.h"
#include "crest/ssl/rotation.h"
#include "crest/util/device.h"
#include "crest/util/error.h"
#include "crest/util/logging.h"
#include "crest/util/signals.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

constexpr char kOption[] = "--out / run.out_dir";

// Whether `name` is something `crest pretrain` writes into its folder.
bool pretrain_file(const std::string& name) {
  static const std::vector<std::string> kOurs = {
      kConfigFile,         kSplitManifestFile, kLogFile,
      kLockFile,           kMetricsFile,       kCheckpointFile,
      kPretrainRecordFile, kBackboneFile,      kBackboneSidecarFile,
      kCacheDir,           kStdoutLogFile,     kStderrLogFile,
      kThreadsFile,        kWorldFile,         kExecutionFile};
  return is_temporary_name(name) || std::find(kOurs.begin(), kOurs.end(), name) != kOurs.end();
}

// The folder may hold nothing, or only what `crest pretrain` writes; a resume needs its
// pretrain.json, a new pre-training must not find one.
void check_pretrain_folder(const fs::path& dir, bool resume) {
  std::error_code ec;
  const bool started = fs::exists(dir / kPretrainRecordFile, ec);
  if (resume && !started) {
    throw InputError("--resume: " + dir.string() + " holds no pre-training to resume (no " +
                     kPretrainRecordFile + "); check --out, or drop --resume to start one");
  }
  if (!resume && started) {
    throw InputError(dir.string() + " already holds a pre-training (" + kPretrainRecordFile +
                     "); pass --resume to continue it, or choose another " + kOption);
  }
  if (!fs::exists(dir, ec)) return;
  if (!fs::is_directory(dir, ec)) {
    throw InputError(dir.string() + " exists and is not a folder; choose another " + kOption);
  }
  if (holds_run(dir) && !started) {
    throw InputError(dir.string() + " holds a crest training run; pre-train into another folder (" +
                     kOption + ")");
  }
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!pretrain_file(name)) {
      throw InputError(dir.string() + " is not empty and holds no crest pre-training (it has '" +
                       name + "'); crest writes only into a new or empty folder, so nothing of " +
                       "yours is overwritten: choose another " + kOption);
    }
  }
  if (ec) throw InputError("cannot list " + dir.string() + ": " + ec.message());
}

// A resume must pre-train what the stored config says (data, model, pretrain and the seed);
// the train and crest sections, the device, threads and folder may differ.
void check_same_pretraining(const fs::path& dir, const Config& config) {
  const fs::path stored_path = dir / kConfigFile;
  const Config stored = load_stored_config(stored_path.string());
  Config mine = config;
  mine.train = stored.train;
  mine.crest = stored.crest;
  mine.run = stored.run;
  mine.run.seed = config.run.seed;
  mine.model.init_from = stored.model.init_from;
  const std::string differences = config_differences_text(stored, mine, "folder");
  if (differences.empty()) return;
  throw InputError("cannot resume " + dir.string() + ": it was pre-trained with another config (" +
                   differences + "\nresume with its own config (" + stored_path.string() +
                   ") or choose another " + kOption);
}

void write_backbone(RunSink& sink, const fs::path& dir, WideResNet& model, const Config& config,
                    const PretrainOutcome& outcome, std::int64_t images) {
  const fs::path file = dir / kBackboneFile;
  sink.weight_file(file, wrn_state_dict(*model, /*backbone_only=*/true), "pt");
  const nlohmann::json sidecar = {
      {"format", "crest-wrn-backbone"},
      {"version", 1},
      {"weights", kBackboneFile},
      {"weights_format", "pt"},
      {"architecture", "wide_resnet"},
      {"depth", config.model.depth},
      {"width", config.model.width},
      {"image_size", config.data.image_size},
      {"normalization", {{"scale", 2.0 / 255.0}, {"shift", -1.0}, {"formula", "x * 2/255 - 1"}}},
      {"head", "left out (fc.*): model.init_from initialises the classifier afresh"},
      {"pretext", "rotation prediction, 4 classes (0, 90, 180, 270 degrees)"},
      {"training_images", images},
      {"steps", outcome.steps},
      {"test_rotation_accuracy", outcome.test_rotation_accuracy},
      {"backbone_fingerprint", outcome.backbone_fingerprint},
      {"crest_version", CREST_VERSION}};
  sink.text_file(dir / kBackboneSidecarFile, json_text(sidecar, 2) + "\n");
}

// How `crest pretrain` opens its folder (io/run_session.h).
SessionOptions pretraining_session(const Config& config, bool resume) {
  SessionOptions options;
  options.kind = SessionKind::kPretraining;
  options.resume = resume;
  options.banner = "pre-training folder";
  options.check_folder = [resume](const fs::path& dir) { check_pretrain_folder(dir, resume); };
  options.check_locked = [&config, resume](const fs::path& dir) {
    if (resume) check_same_pretraining(dir, config);
  };
  return options;
}

// The data (rank 0 first: it may decode and cache images); on resume the same source.
PreparedData load_pretraining_data(RunSession& session, const Config& config, bool resume) {
  const fs::path& dir = session.dir();
  std::optional<PreparedData> prepared;
  session.rank_zero_first("run_opened", [&] {
    prepared.emplace(prepare_data(config.data, decoded_cache_dir(config.data, dir)));
  });
  const nlohmann::json manifest = split_manifest(config.data, *prepared);
  session.check_ranks_agree(config, manifest);
  session.on_every_rank("checking the data against the folder's", [&] {
    const fs::path file = dir / kSplitManifestFile;
    const std::string differences =
        resume && fs::exists(file)
            ? manifest_differences(read_split_manifest(file), manifest, {"source", "duplicates"})
            : std::string();
    if (!differences.empty()) {
      throw InputError(file.string() +
                       " describes other data than the config gives now:" + differences +
                       "\nthe dataset files changed, or the manifest was edited: put them back, "
                       "or choose another " +
                       std::string(kOption));
    }
  });
  return std::move(*prepared);
}

}  // namespace

void run_pretraining(const Config& config, const PretrainOptions& options, std::ostream& out) {
  RunSession session(config, pretraining_session(config, options.resume));
  session.add_writer([&out] { return std::make_unique<ConsoleSink>(out); });
  RunSink& sink = session.sink();
  const fs::path& dir = session.dir();
  if (options.resume) {
    const PretrainRecord record = read_pretrain_record(dir / kPretrainRecordFile);
    if (record.status == "done" && fs::exists(dir / kBackboneFile)) {
      spdlog::info("the pre-training in {} is finished ({} steps, test rotation accuracy {:.4f})",
                   dir.string(), record.steps, record.test_rotation_accuracy);
      sink.result_line((dir / kBackboneFile).string());
      return;
    }
  }
  const PreparedData prepared = load_pretraining_data(session, config, options.resume);
  const RunData run = make_run_data(prepared, session.device());
  // Every training image of the run (labeled and unlabeled alike), labels unused.
  const std::int64_t images = run.images.size(0);
  PretrainSettings settings;
  settings.model = config.model;
  settings.pretrain = config.pretrain;
  settings.seed = config.run.seed;
  settings.checkpoint_every = config.run.checkpoint_every;
  settings.eval_batch_size = config.train.eval_batch_size;
  settings.sink = &sink;
  RotationPretrainer pretrainer(settings, session.device(), run.images, run.test_images, dir);
  spdlog::info(
      "rotation pre-training of WRN-{}-{} on {} images ({} steps of {} images{}), "
      "test rotation accuracy on {} test images x 4",
      config.model.depth, config.model.width, images, pretrainer.total_steps(),
      config.pretrain.batch_size,
      config.pretrain.all_rotations ? " in all four rotations" : ", one rotation each",
      run.test_images.size(0));
  // Written once the data is loaded, pretrain.json first: it marks the folder as a
  // pre-training, so a first attempt that failed earlier leaves nothing to resume.
  PretrainRecord record;
  record.total_steps = pretrainer.total_steps();
  record.images = images;
  if (!options.resume) sink.pretrain_record(dir / kPretrainRecordFile, record);
  session.record_start(config);
  sink.split_manifest(dir / kSplitManifestFile, split_manifest(config.data, prepared));
  const PretrainOutcome outcome = pretrainer.run(options.resume);
  write_backbone(sink, dir, pretrainer.model(), config, outcome, images);
  record.status = "done";
  record.steps = outcome.steps;
  record.test_rotation_accuracy = outcome.test_rotation_accuracy;
  record.backbone_fingerprint = outcome.backbone_fingerprint;
  record.seconds = outcome.seconds;
  sink.pretrain_record(dir / kPretrainRecordFile, record);
  spdlog::info("done: test rotation accuracy {:.4f} after {} steps; backbone {} (fingerprint {})",
               outcome.test_rotation_accuracy, outcome.steps, (dir / kBackboneFile).string(),
               outcome.backbone_fingerprint);
  sink.result_line((dir / kBackboneFile).string());
}

}  // namespace crest
