#include "crest/app/trained.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdio>
#include <optional>
#include <string>
#include <system_error>

#include "crest/data/folder.h"
#include "crest/data/images.h"
#include "crest/io/checkpoint.h"
#include "crest/io/class_tables.h"
#include "crest/io/generation_files.h"
#include "crest/io/manifest.h"
#include "crest/io/run_dir.h"
#include "crest/io/run_files.h"
#include "crest/io/training_files.h"
#include "crest/metrics/metrics.h"
#include "crest/ssl/losses.h"
#include "crest/util/error.h"
#include "crest/util/text_escape.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

bool finished(const fs::path& run_dir, int g) {
  std::error_code ec;
  return fs::exists(generation_dir(run_dir, g) / kGenerationDoneFile, ec);
}

std::string finished_list(const fs::path& run_dir) {
  std::string list;
  for (const auto& [g, dir] : generation_dirs(run_dir)) {
    if (finished(run_dir, g)) list += (list.empty() ? "" : ", ") + std::to_string(g);
  }
  return list.empty() ? "none yet" : list;
}

void check_is_run(const fs::path& run_dir) {
  if (!is_run_folder(run_dir)) {
    throw InputError(run_dir.string() + " is not a crest run folder (no " + kConfigFile +
                     "); give the folder `crest train --out` wrote");
  }
}

}  // namespace

namespace {

int last_finished(const fs::path& run_dir) {
  int last = -1;
  for (const auto& [g, dir] : generation_dirs(run_dir)) {
    if (finished(run_dir, g)) last = g;
  }
  if (last < 0) {
    throw InputError(run_dir.string() +
                     " has no finished generation yet (no gen_K/generation.json): finish "
                     "generation 0 first (crest train --out " +
                     run_dir.string() + " --resume)");
  }
  return last;
}

std::optional<RunSummary> summary_of(const fs::path& run_dir) {
  const fs::path file = run_dir / kRunSummaryFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  return read_run_summary(file);
}

// --generation selected (or best, its old name): the generation selected on validation; for
// the old name also a run's recorded last generation.
GenerationChoice selected_generation(const fs::path& run_dir, const std::string& choice) {
  const std::optional<RunSummary> summary = summary_of(run_dir);
  if (!summary) {
    throw InputError("--generation " + choice + ": " + run_dir.string() +
                     " has no summary.json yet (the run is not finished); use --generation "
                     "last or a finished generation (finished: " +
                     finished_list(run_dir) + ")");
  }
  if (!summary->best_generation) {
    throw InputError("--generation " + choice + ": " + (run_dir / kRunSummaryFile).string() +
                     " names no chosen generation (the run " +
                     (summary->status == kRunDiverged ? "diverged" : "did not finish") +
                     "); use a finished generation (finished: " + finished_list(run_dir) + ")");
  }
  if (summary->chose_on_validation()) {
    return {*summary->best_generation, kChoiceSelected};
  }
  if (choice == "best") {  // the old name, which meant the last generation under select_on last
    return {*summary->best_generation, kChoiceLast};
  }
  throw InputError("--generation selected: " + run_dir.string() +
                   " has no validation split (crest.select_on " + summary->select_on +
                   "), so no generation was selected on one; use --generation last or a "
                   "finished generation (finished: " +
                   finished_list(run_dir) + "); " + kValidationSplitHint);
}

}  // namespace

GenerationChoice resolve_generation(const fs::path& run_dir, const std::string& choice) {
  check_is_run(run_dir);
  if (choice == "selected" || choice == "best") return selected_generation(run_dir, choice);
  if (choice == "last") return {last_finished(run_dir), kChoiceLast};
  if (choice.empty()) {
    const std::optional<RunSummary> summary = summary_of(run_dir);
    if (summary && summary->best_generation && summary->chose_on_validation()) {
      return {*summary->best_generation, kChoiceSelected};
    }
    return {last_finished(run_dir), kChoiceLast};
  }
  bool digits = !choice.empty() && choice.size() < 6;
  for (const char c : choice) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (!digits) {
    throw InputError("--generation must be a generation number, selected or last, got '" + choice +
                     "'");
  }
  const int g = std::stoi(choice);
  if (!finished(run_dir, g)) {
    throw InputError("generation " + choice + " of " + run_dir.string() +
                     " is not a finished generation (finished: " + finished_list(run_dir) + ")");
  }
  return {g, kChoiceNumber};
}

std::string generation_choice_text(const TrainedModel& trained) {
  const std::string g = "generation " + std::to_string(trained.generation);
  if (trained.choice == kChoiceSelected) {
    return g + ", selected on validation (highest " + kSelectedOnMetric + ", crest.select_on val)";
  }
  if (trained.choice == kChoiceLast) {
    return g + ", the last finished one" +
           (uses_validation(trained.config.crest.select_on)
                ? std::string(" (the run is not finished: none is selected on validation yet)")
                : std::string(" (the run has no validation split: ") + kValidationSplitHint + ")");
  }
  return g + " (--generation " + std::to_string(trained.generation) + ")";
}

namespace {

// The run's class names (split manifest) and the generation's class prior (its labeled set,
// pseudo-labels included), checked against each other.
void read_classes(TrainedModel& trained, const fs::path& gen_dir) {
  const fs::path& run_dir = trained.run_dir;
  const nlohmann::json manifest = read_split_manifest(run_dir / kSplitManifestFile);
  // read_split_manifest checked that 'classes' is a list of strings.
  trained.class_names = manifest["classes"].get<std::vector<std::string>>();
  const LabeledDistribution distribution =
      read_labeled_distribution_csv(gen_dir / kLabeledDistributionFile);
  if (distribution.names != trained.class_names) {
    throw DataError((gen_dir / kLabeledDistributionFile).string() +
                    " names other classes than the run's split manifest (damaged)");
  }
  std::int64_t total = 0;
  for (std::int64_t n : distribution.total) total += n;
  trained.class_counts = distribution.total;
  for (std::int64_t n : distribution.total) {
    trained.class_prior.push_back(total > 0 ? static_cast<double>(n) / total : 0.0);
  }
}

// The generation's raw or EMA weights from its checkpoint, checked against the fingerprint its
// summary.json recorded.
void read_weights(TrainedModel& trained, const fs::path& gen_dir) {
  WideResNetOptions options;
  options.depth = trained.config.model.depth;
  options.width = trained.config.model.width;
  options.bn_momentum = trained.config.model.bn_momentum;
  options.num_classes = static_cast<int>(trained.class_names.size());
  options.balanced_head = has_balanced_head(trained.config.train.algorithm);
  options.embedding_dim =
      has_embedding_head(trained.config.train.algorithm) ? trained.config.dmlpl.embedding_dim : 0;
  trained.model = WideResNet(options);
  const std::string& which = trained.which;
  trained.fingerprint =
      read_generation_weights(gen_dir, trained.generation, which == "ema" ? "ema" : "model",
                              *trained.model, "retrain that generation");
}

}  // namespace

TrainedModel load_trained_model(const fs::path& run_dir, const std::string& choice,
                                const std::string& which, at::Device device) {
  if (which != "ema" && which != "raw") {
    throw InputError("--model must be ema or raw, got '" + which + "'");
  }
  TrainedModel trained;
  trained.run_dir = run_dir;
  const GenerationChoice chosen = resolve_generation(run_dir, choice);
  trained.generation = chosen.generation;
  trained.choice = chosen.how;
  trained.which = which;
  try {
    trained.config = load_config_file((run_dir / kConfigFile).string());
  } catch (const ConfigError& e) {
    throw DataError(std::string("cannot read the run's config: ") + e.what());
  }
  const fs::path gen_dir = generation_dir(run_dir, trained.generation);
  read_classes(trained, gen_dir);
  read_weights(trained, gen_dir);
  trained.model->to(device);
  trained.model->eval();
  spdlog::info("{} generation {} ({} model, fingerprint {}), {} classes", run_dir.string(),
               trained.generation, which, trained.fingerprint, trained.class_names.size());
  spdlog::info("using {}", generation_choice_text(trained));
  return trained;
}

void refuse_second_adjustment(const TrainedModel& trained, const std::string& command) {
  if (!logits_already_adjusted(trained.config.train, trained.config.acr)) return;
  char tau[32];
  std::snprintf(tau, sizeof(tau), "%g", trained.config.train.la_tau);
  throw InputError("--logit-adjust: " + trained.run_dir.string() + " was trained with " +
                   "train.labeled_loss=" + to_string(trained.config.train.labeled_loss) +
                   " (la_tau " + tau +
                   "), so its logits already carry the adjustment for the class prior and a "
                   "second one would count the prior twice; " +
                   command + " without --logit-adjust");
}

at::Tensor adjust_for_prior(const at::Tensor& logits, const TrainedModel& trained) {
  return logit_adjust(logits, at::tensor(trained.class_prior, at::kDouble));
}

namespace {

DecodeOptions decode_options_of(const TrainedModel& trained) {
  DecodeOptions options;
  options.image_size = trained.config.data.image_size;
  options.resize = trained.config.data.resize;
  options.threads = trained.config.run.threads;
  return options;
}

// "a, b, c and 4 more": the first few of `files`, relative to `folder`.
std::string first_names(const std::vector<fs::path>& files, const fs::path& folder) {
  constexpr std::size_t kNamed = 3;
  std::string text;
  for (std::size_t i = 0; i < files.size() && i < kNamed; ++i) {
    text += (i == 0 ? "" : ", ") + visible_text(files[i].lexically_relative(folder).string());
  }
  if (files.size() > kNamed) text += " and " + std::to_string(files.size() - kNamed) + " more";
  return text;
}

}  // namespace

at::Tensor decode_for_model(const TrainedModel& trained, const std::vector<fs::path>& files) {
  return decode_images(files, decode_options_of(trained));
}

DecodedFiles decode_folder_for_model(const TrainedModel& trained, const fs::path& folder) {
  const FolderFiles found = find_files_recursive(folder, "image folder");
  DecodedFiles decoded = decode_images_skipping(found.images, decode_options_of(trained));
  std::string skipped;
  if (!found.others.empty()) {
    skipped += std::to_string(found.others.size()) + " without an image extension (" +
               first_names(found.others, folder) + ")";
  }
  if (!decoded.failed.empty()) {
    skipped += std::string(skipped.empty() ? "" : "; ") + std::to_string(decoded.failed.size()) +
               " that do not decode (" + first_names(decoded.failed, folder) + ")";
  }
  if (decoded.files.empty()) {
    throw DataError("the image folder " + folder.string() + " holds no image that decodes" +
                    (skipped.empty() ? std::string() : ": " + skipped) + "; crest reads " +
                    image_extension_list() + " files (any nesting)");
  }
  if (!skipped.empty()) {
    spdlog::warn("skipped {} of {} files under {}: {}", found.others.size() + decoded.failed.size(),
                 found.others.size() + found.images.size(), folder.string(), skipped);
  }
  return decoded;
}

}  // namespace crest
