// `crest pretrain`: self-supervised rotation pre-training of the WRN backbone on every training
// image of the configured data (labels unused), for model.init_from (ssl/rotation.h).
#pragma once

#include <ostream>

#include "crest/config/config.h"

namespace crest {

struct PretrainOptions {
  bool resume = false;
};

// Pre-trains into config.run.out_dir (the DIR of `crest pretrain --out DIR`): config.yaml,
// split_manifest.json (which images were used), crest.log, pretrain.json, metrics.jsonl,
// checkpoint.pt, and at the end backbone.pt with backbone.pt.json; prints the backbone's path
// to `out`. InputError for a folder that holds something else (a training run, files that are
// not crest's), a resume with another config or without a pre-training to resume;
// Interrupted after a stop request (continue with --resume).
void run_pretraining(const Config& config, const PretrainOptions& options, std::ostream& out);

}  // namespace crest
