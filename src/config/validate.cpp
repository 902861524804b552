// Rules that involve several keys (config/config.h, validate_config); each key's own type and
// range are checked where it is read (config.cpp, the key table in config_keys.cpp).
#include <cmath>
#include <string>

#include "config_keys.h"
#include "crest/config/config.h"
#include "crest/util/error.h"

namespace crest {

using config_detail::format_double;

namespace {

// The data section's rules across keys: the image size a format fixes, the root of files read,
// the cache, the unlabeled imbalance.
void validate_data(const DataConfig& data) {
  switch (data.dataset) {
    case DatasetKind::kCifar10:
    case DatasetKind::kCifar100:
      if (data.image_size != 32) {
        throw ConfigError("data.image_size must be 32 for " + to_string(data.dataset) + ", got " +
                          std::to_string(data.image_size));
      }
      break;
    case DatasetKind::kFolder:
    case DatasetKind::kSynthetic:
      break;
  }
  if (reads_files(data.dataset) && data.root.empty()) {
    throw ConfigError("data.root must name the folder holding the " + to_string(data.dataset) +
                      " data, got ''");
  }
  if (data.cache.empty()) {
    throw ConfigError(
        "data.cache must be run (RUN/cache), off, or a folder for the decoded images, got ''");
  }
  if (std::fabs(data.imbalance_ratio_unlabeled) < 1.0) {
    throw ConfigError(
        "data.imbalance_ratio_unlabeled must be >= 1 or <= -1 (negative reverses "
        "the unlabeled distribution), got " +
        format_double(data.imbalance_ratio_unlabeled));
  }
}

// The optimizers' rules: pre-training's warm-up ends before its decay; Nesterov needs momentum.
void validate_optimizers(const PretrainConfig& pre, const TrainConfig& train) {
  if (pre.warmup >= pre.decay_at) {
    throw ConfigError("pretrain.warmup (" + format_double(pre.warmup) +
                      ") must end before pretrain.decay_at (" + format_double(pre.decay_at) +
                      "): lower the warm-up or move the decay later");
  }
  if (pre.nesterov && pre.momentum <= 0.0) {
    throw ConfigError("pretrain.nesterov needs pretrain.momentum > 0, got " +
                      format_double(pre.momentum) + " (set pretrain.nesterov=false)");
  }
  if (train.nesterov && train.momentum <= 0.0) {
    throw ConfigError("train.nesterov needs train.momentum > 0, got " +
                      format_double(train.momentum) + " (set train.nesterov=false)");
  }
}

// What train.algorithm=mixmatch rules out.
void validate_mixmatch(const TrainConfig& train) {
  if (train.algorithm != TrainAlgorithm::kMixMatch) return;
  // MixMatch's labeled loss is the soft-target CE on MixUp's mixed labels (ssl/mixmatch.h).
  if (train.labeled_loss != LabeledLoss::kCe) {
    throw ConfigError(
        "train.labeled_loss must be ce with train.algorithm=mixmatch (its labeled "
        "loss is the soft-target cross-entropy on mixed labels), got " +
        to_string(train.labeled_loss) + "; set train.labeled_loss=ce or train.algorithm=fixmatch");
  }
  if (train.unlabeled_ratio == 0) {
    throw ConfigError(
        "train.unlabeled_ratio must be >= 1 with train.algorithm=mixmatch (it guesses labels "
        "for unlabeled images), got 0; set train.unlabeled_ratio=1 (MixMatch's papers) or "
        "train.algorithm=fixmatch for supervised training");
  }
}

// train.cuda_graph=on with a learner whose step cannot be recorded once and replayed.
void validate_cuda_graph(const TrainConfig& train) {
  if (train.cuda_graph != Toggle::kOn) return;
  const char* why = nullptr;
  switch (train.algorithm) {
    case TrainAlgorithm::kFixMatch:
    case TrainAlgorithm::kDmlpl:
      return;
    case TrainAlgorithm::kMixMatch:
      why = "its step has two forwards and a fresh MixUp draw";
      break;
    case TrainAlgorithm::kAcr:
      why = "its adaptive tau changes at epoch starts";
      break;
    case TrainAlgorithm::kSemi:
      why = "its memory bank is updated on the host inside the step";
      break;
    case TrainAlgorithm::kDaso:
      why = "its feature queue grows and its warm-up ends inside the step";
      break;
  }
  throw ConfigError(
      "train.cuda_graph=on does not work with train.algorithm=" + to_string(train.algorithm) +
      " (" + why + "); set train.cuda_graph=auto or off");
}

// What train.algorithm=semi needs: one unlabeled image per labeled one (pywin/SeMi slices its
// features for mu = 1 only).
void validate_semi(const TrainConfig& train) {
  if (train.algorithm != TrainAlgorithm::kSemi || train.unlabeled_ratio == 1) return;
  throw ConfigError(
      "train.unlabeled_ratio must be 1 with train.algorithm=semi (its step pairs "
      "each labeled image with one unlabeled image, as pywin/SeMi runs only with "
      "--mu 1), got " +
      std::to_string(train.unlabeled_ratio) + "; set train.unlabeled_ratio=1");
}

// What train.algorithm=daso needs: the pseudo-label distribution of at least one period before
// the warm-up ends (the reference divides 0 by 0 otherwise).
void validate_daso(const TrainConfig& train, const DasoConfig& daso) {
  if (train.algorithm != TrainAlgorithm::kDaso || !daso.dist_aware) return;
  if (daso.warmup_steps >= daso.dist_update_period) return;
  throw ConfigError("daso.warmup_steps (" + std::to_string(daso.warmup_steps) +
                    ") must be at least daso.dist_update_period (" +
                    std::to_string(daso.dist_update_period) +
                    ") with daso.dist_aware=true: the blend reads the pseudo-label distribution "
                    "of the last full period, which does not exist before the first period ends; "
                    "raise daso.warmup_steps or lower daso.dist_update_period");
}

// What crest.selection=knn needs: generations that select (crest.mode crest or crest+) and at
// least one selection, so that the last generation trains on every unlabeled image.
void validate_knn(const CrestConfig& crest) {
  if (crest.selection != SelectionPolicy::kKnn) return;
  if (!selects_pseudo_labels(crest.mode)) {
    throw ConfigError(
        "crest.selection=knn needs self-training generations, but crest.mode is fixmatch; set "
        "crest.mode=crest (or crest+ for CReST+'s alignment), or crest.selection=confidence");
  }
  if (crest.generations < 2) {
    throw ConfigError(
        "crest.selection=knn labels the unlabeled images over the generations and "
        "needs crest.generations of at least 2 (the last one trains on every "
        "image), got " +
        std::to_string(crest.generations) + "; set crest.generations=2 or more");
  }
}

}  // namespace

void validate_config(const Config& config) {
  validate_data(config.data);
  validate_optimizers(config.pretrain, config.train);
  validate_mixmatch(config.train);
  validate_cuda_graph(config.train);
  validate_semi(config.train);
  validate_daso(config.train, config.daso);
  validate_knn(config.crest);
  if ((config.model.depth - 4) % 6 != 0) {
    throw ConfigError("model.depth must be 6n + 4 (10, 16, 22, 28, ...), got " +
                      std::to_string(config.model.depth));
  }
}

}  // namespace crest
