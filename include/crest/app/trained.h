// A trained model of a run folder, for `crest evaluate`, `crest predict` and `crest export`:
// the run's config, the model of one finished generation read from its checkpoint and verified
// against the fingerprint the generation recorded, the class names and the training prior.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <string>
#include <vector>

#include "crest/config/config.h"
#include "crest/data/images.h"
#include "crest/models/wrn.h"

namespace crest {

struct TrainedModel {
  std::filesystem::path run_dir;
  Config config;                           // RUN/config.yaml
  int generation = 0;                      // the generation whose model this is
  std::string which;                       // "ema" or "raw"
  std::vector<std::string> class_names;    // in label order (RUN/split_manifest.json)
  std::string choice;                      // how the generation was chosen: kChoice*
  std::vector<std::int64_t> class_counts;  // the generation's labeled set per class (with its
                                           // pseudo-labels), RUN/gen_K/labeled_distribution.csv
  std::vector<double> class_prior;         // class_counts normalised to sum 1
  std::string fingerprint;                 // weights_fingerprint of `model`
  WideResNet model{nullptr};               // eval mode, on the device asked for
};

// How a generation was chosen: selected on validation (crest.select_on val), the last
// finished one, or asked for by number.
inline constexpr char kChoiceSelected[] = "selected";
inline constexpr char kChoiceLast[] = "last";
inline constexpr char kChoiceNumber[] = "number";

struct GenerationChoice {
  int generation = 0;
  std::string how;  // kChoice*
};

// The generation `choice` names in `run_dir`: "" (the default: the generation selected on
// validation when the run has a validation split and is finished, else the last finished one),
// "selected" (summary.json's generation selected on validation; the run must be finished and
// have a validation split), "last" (the last finished generation), "best" (the old name: the
// selected generation, or a finished run's last one under select_on last) or a number (that
// generation, which must be finished). InputError naming the run and what exists when there
// is none, and for "selected" without a validation split how to make one.
GenerationChoice resolve_generation(const std::filesystem::path& run_dir,
                                    const std::string& choice);

// Loads the EMA ("ema") or raw ("raw") model of generation `choice` from
// RUN/gen_K/checkpoint.pt onto `device`, and checks its fingerprint against
// RUN/gen_K/summary.json. InputError when the folder is not a run, the generation does not exist
// or is not finished, or `which` is neither; DataError naming the file when the checkpoint is
// missing, damaged or does not match the recorded fingerprint.
TrainedModel load_trained_model(const std::filesystem::path& run_dir, const std::string& choice,
                                const std::string& which, at::Device device);

// "generation 2, selected on validation (...)" or "generation 2, the last finished one (the
// run has no validation split: how to make one)": which generation `trained` is and why, for
// people.
std::string generation_choice_text(const TrainedModel& trained);

// `command --logit-adjust` (evaluate, predict) on a model whose logits already carry the
// adjustment (ssl/losses.h logits_already_adjusted) would subtract the prior twice: InputError
// naming the run, its train.labeled_loss and la_tau, before anything is written.
void refuse_second_adjustment(const TrainedModel& trained, const std::string& command);

// `logits` float [N, C] adjusted post hoc with the generation's class prior, tau 1 (Menon et
// al. 2021; metrics/metrics.h logit_adjust): logits - log(max(prior, kPriorEpsilon)).
at::Tensor adjust_for_prior(const at::Tensor& logits, const TrainedModel& trained);

// Decodes image files the way the run's training data was (data.image_size, data.resize) into
// uint8 [N, 3, S, S]. DataError naming a file that does not decode.
at::Tensor decode_for_model(const TrainedModel& trained,
                            const std::vector<std::filesystem::path>& files);

// Every image under `folder` (any nesting, as a folder dataset's unlabeled/ is listed: hidden
// entries skipped, links followed, a link back up entered once), decoded as decode_for_model.
// Files without an image extension and files that do not decode are left out with one warning
// that counts them and names the first few. DataError naming the folder when it is missing or
// no image in it decodes.
DecodedFiles decode_folder_for_model(const TrainedModel& trained,
                                     const std::filesystem::path& folder);

}  // namespace crest
