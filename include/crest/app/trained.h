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
  Config config;                         // RUN/config.yaml
  int generation = 0;                    // the generation whose model this is
  std::string which;                     // "ema" or "raw"
  std::vector<std::string> class_names;  // in label order (RUN/split_manifest.json)
  std::vector<double> class_prior;       // the generation's training class counts, normalised
  std::string fingerprint;               // weights_fingerprint of `model`
  WideResNet model{nullptr};             // eval mode, on the device asked for
};

// The generation `choice` names in `run_dir`: "last" (the last finished generation), "best"
// (summary.json's best generation; the run must be finished) or a number (that generation,
// which must be finished). InputError naming the run and what exists when there is none.
int resolve_generation(const std::filesystem::path& run_dir, const std::string& choice);

// Loads the EMA ("ema") or raw ("raw") model of generation `choice` from
// RUN/gen_K/checkpoint.pt onto `device`, and checks its fingerprint against
// RUN/gen_K/summary.json. InputError when the folder is not a run, the generation does not exist
// or is not finished, or `which` is neither; DataError naming the file when the checkpoint is
// missing, damaged or does not match the recorded fingerprint.
TrainedModel load_trained_model(const std::filesystem::path& run_dir, const std::string& choice,
                                const std::string& which, at::Device device);

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
