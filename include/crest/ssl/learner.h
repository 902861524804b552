// The learner: what one training method contributes to the one training loop
// (ssl/training_loop.h) and the one step engine (ssl/engine.h). A learner draws its batch on the
// device, computes its loss and the loss's statistics, evaluates at the loop's cadence, and says
// whether its step can be recorded once and replayed as a CUDA graph. Everything else (the
// optimiser, the EMA, data parallelism, checkpoints, the schedule, finiteness, stop and resume,
// what is written where) belongs to the engine, the loop and the sink (io/sink.h), the same for
// every method.
//
// The learners: FixMatch and MixMatch (ssl/semi_learners.h) inside each CReST generation, and
// rotation prediction (ssl/rotation.h) for `crest pretrain`. A new method is a new learner, one
// TrainAlgorithm value (config/choices.h) and one case of make_semi_learner (docs/architecture.md,
// "Where to add").
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crest/io/sink.h"
#include "crest/util/progress.h"

namespace crest {

// The inputs of one step: the views, augmented and normalised, on the device.
struct StepBatch {
  at::Tensor inputs;           // float [B + 2U, 3, H, W]: labeled weak, unlabeled weak, strong;
                               // mixmatch: [B + K U]: labeled weak, K unlabeled weak views;
                               // rotation: [B', 3, H, W] turned images
  at::Tensor labels;           // int64 [B]: targets of the labeled images (rotation: the turns)
  at::Tensor unlabeled_truth;  // int64 [U]: hidden true labels (monitoring), may be undefined
  // bool [U]: which unlabeled images are also labeled ones (TrainingData::unlabeled_is_labeled),
  // may be undefined. Not copied into a CUDA graph's buffers: read only by eager learners (ACR).
  at::Tensor unlabeled_is_labeled;
  // What else a learner draws with its batch and reads in its loss, in its own order (MixMatch:
  // MixUp's partners int64 [B + K U] and weights float [B + K U]); empty for most learners. The
  // engine copies nothing of it into a CUDA graph's buffers, so a learner that uses it is not
  // capturable.
  std::vector<at::Tensor> extra;
};

// The loss of one step and its statistics.
struct StepLoss {
  at::Tensor total;  // float scalar with gradient: what backward() differentiates
  at::Tensor stats;  // float64 [Learner::stat_count()] on the device: this step's statistics,
                     // summed over the steps between two evaluations (no host synchronisation)
};

// The resumable state under construction (the engine's module tree): a learner registers what it
// keeps across steps (index samplers, alignment buffers, memory banks) as submodules or buffers,
// so every checkpoint carries it with no save code of its own. Per-rank pieces (each rank's own
// samplers) are also mirrored into rank 0's checkpoint in a multi-rank run (dist/rank_state.h);
// the others must be the same on every rank.
class StateTree {
 public:
  explicit StateTree(torch::nn::Module& root) : root_(root) {}
  void add_module(const std::string& name, std::shared_ptr<torch::nn::Module> module,
                  bool per_rank);
  at::Tensor add_buffer(const std::string& name, const at::Tensor& buffer, bool per_rank);
  std::vector<std::pair<std::string, at::Tensor>>& per_rank() { return per_rank_; }

 private:
  torch::nn::Module& root_;
  std::vector<std::pair<std::string, at::Tensor>> per_rank_;
};

// What the loop passes to an evaluation.
struct EvaluationInput {
  std::int64_t step = 0;
  std::int64_t epoch = 0;  // step / steps_per_epoch
  double lr = 0.0;         // the rate of the last step
  double steps_per_sec = 0.0;
  at::Tensor stats;  // float64 [stat_count()] on the CPU: the step statistics since the previous
                     // evaluation, each rank's sums averaged over the ranks
};

class Learner {
 public:
  Learner() = default;
  virtual ~Learner() = default;
  Learner(const Learner&) = delete;
  Learner& operator=(const Learner&) = delete;

  // The length of StepLoss::stats.
  virtual int stat_count() const = 0;
  // Registers the learner's resumable state into `tree` (called once, by the engine, between
  // the optimiser's buffers and the generator: the order fixes the checkpoint's layout).
  virtual void register_state(StateTree& tree) = 0;
  // This rank's next batch, sampled and augmented on the device with `generator`.
  virtual StepBatch draw_batch(at::Generator& generator) = 0;
  // Forward passes and the loss of `batch` at `step` (0-based, before the step is counted), with
  // the model in training mode. No host synchronisation (the engine may record it as a CUDA
  // graph when graph_capturable()). `world` collectives are allowed only when not capturable.
  virtual StepLoss loss(const StepBatch& batch, std::int64_t step) = 0;
  // Whether loss() reads nothing but `batch`'s inputs, labels and unlabeled_truth (fixed shapes)
  // and the module tree, so that one recording replays every step.
  virtual bool graph_capturable() const = 0;
  // The evaluation record at the loop's cadence (every epoch and at the end). Collective in a
  // multi-rank run: every rank calls it and gets the same record.
  virtual EpochLine evaluate(const EvaluationInput& input) = 0;
  // The progress bar's fields: from an evaluation `line`, or (nullptr) the running statistics
  // `stats` (float64 [stat_count()] on the CPU, this rank's).
  virtual ProgressFields progress_fields(double lr, const at::Tensor& stats,
                                         const EpochLine* line) const = 0;
};

// One progress-bar field "NAME VALUE" (and "SHORT VALUE" for narrow terminals); fields of lower
// priority are dropped first (util/progress.h).
ProgressField progress_field(const char* name, const char* short_name, const char* format,
                             double value, int priority);

}  // namespace crest
