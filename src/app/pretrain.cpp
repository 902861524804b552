#include "crest/app/pretrain.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crest/data/prepare.h"
#include "crest/io/file.h"
#include "crest/io/manifest.h"
#include "crest/io/pretrain_files.h"
#include "crest/io/run_dir.h"
#include "crest/io/run_files.h"
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
      kThreadsFile};
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

void write_backbone(const fs::path& dir, WideResNet& model, const Config& config,
                    const PretrainOutcome& outcome, std::int64_t images) {
  const fs::path file = dir / kBackboneFile;
  write_weight_file(file, wrn_state_dict(*model, /*backbone_only=*/true), "pt");
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
  write_file_atomic(dir / kBackboneSidecarFile, sidecar.dump(2) + "\n");
}

}  // namespace

void run_pretraining(const Config& config, const PretrainOptions& options, std::ostream& out) {
  const fs::path dir = config.run.out_dir;
  const at::Device device = resolve_device(config.run.device);
  const RunThreads threads = set_run_cpu_threads(dir, config.run.threads, options.resume);
  check_pretrain_folder(dir, options.resume);
  RunLock lock(dir);
  if (options.resume) check_same_pretraining(dir, config);
  add_log_file(dir / kLogFile);
  install_stop_handlers();
  spdlog::info("pre-training folder {} ({})", dir.string(), current_command_line());
  spdlog::info("crest {} | LibTorch {} | device {}", CREST_VERSION, CREST_TORCH_VERSION,
               describe_device(device));
  for (const fs::path& stale : remove_stale_temporaries(dir)) {
    spdlog::info("removed {} (left by a write that was cut short)", stale.string());
  }
  record_run_cpu_threads(dir, threads);
  if (options.resume) {
    const PretrainRecord record = read_pretrain_record(dir / kPretrainRecordFile);
    if (record.status == "done" && fs::exists(dir / kBackboneFile)) {
      spdlog::info("the pre-training in {} is finished ({} steps, test rotation accuracy {:.4f})",
                   dir.string(), record.steps, record.test_rotation_accuracy);
      out << (dir / kBackboneFile).string() << "\n";
      return;
    }
  }
  const PreparedData prepared = prepare_data(config.data, decoded_cache_dir(config.data, dir));
  const nlohmann::json manifest = split_manifest(config.data, prepared);
  if (options.resume && fs::exists(dir / kSplitManifestFile) &&
      read_split_manifest(dir / kSplitManifestFile)["source"] != manifest["source"]) {
    throw InputError((dir / kSplitManifestFile).string() +
                     " describes other data than the config gives now (the dataset files "
                     "changed); choose another " +
                     std::string(kOption));
  }
  const RunData run = make_run_data(prepared, device);
  // Every training image of the run (labeled and unlabeled alike), labels unused.
  const std::int64_t images = run.images.size(0);
  PretrainSettings settings;
  settings.model = config.model;
  settings.pretrain = config.pretrain;
  settings.seed = config.run.seed;
  settings.checkpoint_every = config.run.checkpoint_every;
  settings.eval_batch_size = config.train.eval_batch_size;
  RotationPretrainer pretrainer(settings, device, run.images, run.test_images, dir);
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
  if (!options.resume) write_pretrain_record(dir / kPretrainRecordFile, record);
  write_file_atomic(dir / kConfigFile, config_to_yaml(config));
  write_split_manifest(dir / kSplitManifestFile, manifest);
  const PretrainOutcome outcome = pretrainer.run(options.resume);
  write_backbone(dir, pretrainer.model(), config, outcome, images);
  record.status = "done";
  record.steps = outcome.steps;
  record.test_rotation_accuracy = outcome.test_rotation_accuracy;
  record.backbone_fingerprint = outcome.backbone_fingerprint;
  record.seconds = outcome.seconds;
  write_pretrain_record(dir / kPretrainRecordFile, record);
  spdlog::info("done: test rotation accuracy {:.4f} after {} steps; backbone {} (fingerprint {})",
               outcome.test_rotation_accuracy, outcome.steps, (dir / kBackboneFile).string(),
               outcome.backbone_fingerprint);
  out << (dir / kBackboneFile).string() << "\n";
}

}  // namespace crest
