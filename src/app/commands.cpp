#include "crest/app/commands.h"

#include <ATen/Context.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>

#include "crest/data/cifar.h"
#include "crest/data/folder.h"
#include "crest/data/prepare.h"
#include "crest/data/split.h"
#include "crest/data/synthetic.h"
#include "crest/io/json_text.h"
#include "crest/io/manifest.h"
#include "crest/io/output_paths.h"
#include "crest/io/run_dir.h"
#include "crest/io/run_files.h"
#include "crest/io/run_session.h"
#include "crest/io/tensorboard.h"
#include "crest/util/error.h"
#include "crest/util/logging.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The first int(N * ratio^(-c/(L-1))) images of each class c (images stay in their order).
Dataset long_tailed(const Dataset& set, double ratio) {
  const std::vector<std::int64_t> have = set.class_counts();
  const std::int64_t n = *std::max_element(have.begin(), have.end());
  const std::vector<std::int64_t> keep = crest_lt_counts(n, set.num_classes(), ratio);
  std::vector<std::int64_t> taken(have.size(), 0);
  std::vector<std::int64_t> indices;
  const auto* labels = set.labels.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < set.size(); ++i) {
    const auto c = static_cast<std::size_t>(labels[i]);
    if (taken[c] < std::max<std::int64_t>(keep[c], 1)) {
      ++taken[c];
      indices.push_back(i);
    }
  }
  return set.subset(indices);
}

// A manifest already at `path` that describes another split must not be lost silently.
void guard_existing_manifest(const fs::path& path, const nlohmann::json& manifest, bool force) {
  if (force || !fs::exists(path)) return;
  nlohmann::json existing;
  try {
    existing = read_split_manifest(path);
  } catch (const DataError& e) {
    throw InputError(std::string(e.what()) +
                     "; refusing to overwrite it (pass --force to "
                     "replace it, or choose another run.out_dir / --manifest)");
  }
  const std::string differences = manifest_differences(existing, manifest);
  if (!differences.empty()) {
    throw InputError(path.string() +
                     " already holds the manifest of a different split:" + differences +
                     "\nrefusing to overwrite it. Choose another run.out_dir (--set "
                     "run.out_dir=DIR) or --manifest, or pass --force");
  }
}

// InputError naming the first option of `crest data synth` out of its range.
void check_synth_options(const DataSynthOptions& options) {
  if (options.out_dir.empty()) throw InputError("--out must name a folder");
  if (options.classes < 2 || options.classes > 256) {
    throw InputError(
        "--classes must be between 2 and 256 (labels are one byte in the CIFAR "
        "layout), got " +
        std::to_string(options.classes));
  }
  if (options.train_per_class < 1) {
    throw InputError("--train-per-class must be >= 1, got " +
                     std::to_string(options.train_per_class));
  }
  if (options.test_per_class < 1) {
    throw InputError("--test-per-class must be >= 1, got " +
                     std::to_string(options.test_per_class));
  }
  if (options.seed < 0)
    throw InputError("--seed must be >= 0, got " + std::to_string(options.seed));
  const bool folder = options.format == "folder";
  if (!folder && options.format != "cifar") {
    throw InputError("--format must be cifar or folder, got '" + options.format + "'");
  }
  if (!folder && (options.image_size != 32 || options.imbalance_ratio != 1.0 ||
                  options.unlabeled_per_class != 0)) {
    throw InputError(
        "--image-size, --imbalance-ratio and --unlabeled-per-class need --format folder (the "
        "CIFAR layout is balanced 32x32 labeled images)");
  }
  if (options.image_size < 8 || options.image_size > 256) {
    throw InputError("--image-size must be between 8 and 256, got " +
                     std::to_string(options.image_size));
  }
  if (!(options.imbalance_ratio >= 1.0)) {
    throw InputError("--imbalance-ratio must be >= 1, got " +
                     std::to_string(options.imbalance_ratio));
  }
  if (options.unlabeled_per_class < 0) {
    throw InputError("--unlabeled-per-class must be >= 0, got " +
                     std::to_string(options.unlabeled_per_class));
  }
}

// The image-folder layout's data: the training set cut to a long tail, with
// --unlabeled-per-class other images (long-tailed too) of unknown class appended.
void make_folder_data(const DataSynthOptions& options, const SyntheticOptions& synth,
                      DatasetPair& data) {
  data.train = long_tailed(data.train, options.imbalance_ratio);
  if (options.unlabeled_per_class > 0) {
    SyntheticOptions extra = synth;
    extra.train_per_class = options.unlabeled_per_class;
    extra.seed = synth.seed + 1;  // other images than the labeled ones
    Dataset unlabeled = long_tailed(make_synthetic(extra).train, options.imbalance_ratio);
    unlabeled.labels.fill_(kUnknownLabel);
    data.train = concatenate(data.train, unlabeled);
  }
}

}  // namespace

void data_prepare(const Config& config, const DataPrepareOptions& options, std::ostream& out) {
  const fs::path run_dir = config.run.out_dir;
  const fs::path manifest_path = options.manifest_path.empty() ? run_dir / kSplitManifestFile
                                                               : fs::path(options.manifest_path);
  // --manifest alone writes that one file: no run folder (log, lock, cache) appears.
  const bool opens_folder = options.manifest_path.empty() || options.folder_given;
  // A run's manifest is the split it trained on: --force must not swap it under the run.
  if (options.force && manifest_path.filename() == kSplitManifestFile &&
      holds_run(manifest_path.parent_path().empty() ? fs::path(".")
                                                    : manifest_path.parent_path())) {
    throw InputError(manifest_path.string() + " belongs to the crest run in " +
                     manifest_path.parent_path().string() + " (" + kConfigFile +
                     "); --force would replace the split that run trained on. Prepare into "
                     "another run.out_dir (--set run.out_dir=DIR) or --manifest PATH");
  }
  // Locked: no run may start or resume in the folder while its split is written.
  SessionOptions session_options;
  session_options.kind = SessionKind::kDataPrepare;
  session_options.banner.clear();
  session_options.check_folder = [](const fs::path& dir) {
    check_run_folder_is_ours(dir, "run.out_dir (--set run.out_dir=DIR)");
  };
  std::optional<RunSession> session;
  if (opens_folder) session.emplace(config, session_options);
  const bool cache_in_run = config.data.cache == "run";

  const auto start = std::chrono::steady_clock::now();
  spdlog::info("loading {} data{}", to_string(config.data.dataset),
               reads_files(config.data.dataset) ? " from " + config.data.root : "");
  const PreparedData prepared = prepare_data(
      config.data, opens_folder || !cache_in_run ? decoded_cache_dir(config.data, run_dir) : "");
  spdlog::info("{} training and {} test images, {} classes; long-tailed set {} images ({:.2f}s)",
               prepared.source.train.size(), prepared.source.test.size(),
               prepared.source.train.num_classes(), prepared.split.lt_indices.size(),
               seconds_since(start));

  const nlohmann::json manifest = split_manifest(config.data, prepared);
  guard_existing_manifest(manifest_path, manifest, options.force);
  write_split_manifest(manifest_path, manifest);
  spdlog::info("split manifest written to {}", manifest_path.string());

  if (options.json) {
    out << json_text(split_counts_json(prepared)) << "\n";
  } else {
    out << split_counts_table(prepared);
  }
  out.flush();
}

void data_synth(const DataSynthOptions& options, std::ostream& out) {
  check_synth_options(options);
  const bool folder = options.format == "folder";
  const fs::path dir = options.out_dir;
  const fs::path marker = folder ? dir / "train" : dir / "test_batch.bin";
  check_output_folder_outside_crest(dir, "--out");
  if (!options.force && fs::exists(marker)) {
    throw InputError(dir.string() + " already holds a dataset (" + marker.string() +
                     "); refusing to overwrite it (pass --force, or choose another --out)");
  }
  SyntheticOptions synth;
  synth.num_classes = options.classes;
  synth.train_per_class = options.train_per_class;
  synth.test_per_class = options.test_per_class;
  synth.seed = static_cast<std::uint64_t>(options.seed);
  synth.image_size = options.image_size;
  const auto start = std::chrono::steady_clock::now();
  DatasetPair data = make_synthetic(synth);
  if (!folder) {
    write_cifar10_folder(dir, data);
  } else {
    make_folder_data(options, synth, data);
    if (fs::exists(dir / "unlabeled")) fs::remove_all(dir / "unlabeled");
    write_image_folder(dir, data);
  }
  spdlog::info("wrote {} training ({} unlabeled) and {} test images of {} classes to {} ({:.2f}s)",
               data.train.size(), data.train.unknown_count(), data.test.size(), options.classes,
               dir.string(), seconds_since(start));
  out << dir.string() << "\n";
}

Config resolve_train_config(const std::string& config_path, std::vector<std::string> overrides,
                            const std::string& out, const std::string& device, bool resume) {
  // Taken literally: a path or a device name is not YAML ("runs/exp #3" keeps its "#3").
  if (!out.empty()) overrides.push_back(literal_override("run.out_dir", out));
  if (!device.empty()) overrides.push_back(literal_override("run.device", device));
  if (!resume || !config_path.empty()) return resolve_config(config_path, overrides);
  // --resume without --config: the run's own config.yaml, in the folder the options name.
  const std::string run_dir = resolve_config("", overrides).run.out_dir;
  const fs::path stored = fs::path(run_dir) / kConfigFile;
  std::error_code ec;
  if (!fs::is_regular_file(stored, ec)) return resolve_config(config_path, overrides);
  spdlog::info("--resume without --config: using the run's own {}", stored.string());
  overrides.push_back(literal_override("run.out_dir", run_dir));
  return resolve_config(stored.string(), overrides);
}

std::string version_text() {
  std::string text = std::string("crest ") + CREST_VERSION + "\nLibTorch " + CREST_TORCH_VERSION +
                     " (built with " + std::to_string(TORCH_VERSION_MAJOR) + "." +
                     std::to_string(TORCH_VERSION_MINOR) + "." +
                     std::to_string(TORCH_VERSION_PATCH) + " headers)\n";
  text += std::string("CUDA: ") +
          (at::globalContext().hasCUDA() ? "compiled in" : "not compiled in") + "\n";
  text += std::string("image folders: ") +
          (folder_datasets_available() ? "yes (OpenCV)" : "no (built without OpenCV)") + "\n";
  text += std::string("TensorBoard: ") +
          (tensorboard_supported() ? "yes (Protobuf)" : "no (built without Protobuf)") + "\n";
  return text;
}

}  // namespace crest
