// The work behind each `crest` subcommand. main() parses the command line and calls these;
// they throw (InputError for what the user can fix) and write results to the given stream.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "crest/config/config.h"

namespace crest {

struct DataPrepareOptions {
  bool json = false;          // one JSON object on stdout instead of the table
  std::string manifest_path;  // "" = <run.out_dir>/split_manifest.json
  bool force = false;         // replace a manifest that describes a different split
  bool folder_given = false;  // run.out_dir was named (--out): the folder is opened even with
                              // --manifest
};

// Builds the long-tailed set and split and prints the per-class table or JSON to `out`. Writes
// the split manifest, the log file (and data.cache: run's decoded images) into run.out_dir; with
// only `manifest_path` (no `folder_given`) it writes that one file and creates no run folder.
void data_prepare(const Config& config, const DataPrepareOptions& options, std::ostream& out);

struct DataSynthOptions {
  std::string out_dir;
  int classes = 10;
  int train_per_class = 5000;
  int test_per_class = 1000;
  std::int64_t seed = 0;
  bool force = false;            // overwrite a dataset already in out_dir
  std::string format = "cifar";  // cifar (binary layout) | folder (PNG image folders)
  int image_size = 32;           // folder only (the CIFAR layout is 32)
  double imbalance_ratio =
      1.0;                      // folder only: N_c = int(N * ratio^(-c/(L-1))), train and unlabeled
  int unlabeled_per_class = 0;  // folder only: ROOT/unlabeled images per class (before the ratio)
};

// Writes a synthetic dataset in the CIFAR-10 binary layout, or (format folder) as PNG image
// folders with a naturally imbalanced train/ and an unlabeled/ part whose classes are not
// written anywhere.
void data_synth(const DataSynthOptions& options, std::ostream& out);

// The config of `crest train`: the file (or the embedded quickstart), the --set overrides,
// then --out and --device taken literally (not read as YAML). With `resume` and no
// `config_path`, the run folder's own config.yaml is the file, so `crest train --out RUN
// --resume` needs no --config.
Config resolve_train_config(const std::string& config_path, std::vector<std::string> overrides,
                            const std::string& out, const std::string& device, bool resume);

// crest, LibTorch and OpenCV versions and the devices this build can use.
std::string version_text();

}  // namespace crest
