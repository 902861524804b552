// FixMatch training of one generation: the step (one forward pass over labeled-weak,
// unlabeled-weak and unlabeled-strong), evaluation every epoch, the outputs people read
// (metrics.jsonl, per_class.csv, confusion.csv, summary.json), checkpoints and exact resume.
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "crest/config/config.h"
#include "crest/io/training_files.h"
#include "crest/io/weight_files.h"
#include "crest/metrics/metrics.h"
#include "crest/models/wrn.h"
#include "crest/ssl/alignment.h"
#include "crest/ssl/mixmatch.h"
#include "crest/ssl/predict.h"
#include "crest/util/progress.h"

namespace crest {

class EventWriter;

// Everything a generation trains and evaluates on, resident on the training device.
struct TrainingData {
  at::Tensor images;           // uint8 [N, 3, H, W]: every image the generation touches
  at::Tensor labeled_index;    // int64 [L]: positions in `images` of the labeled set
  at::Tensor labeled_targets;  // int64 [L]: their labels (true, or pseudo for CReST)
  at::Tensor unlabeled_index;  // int64 [U]: positions of the unlabeled stream
  at::Tensor unlabeled_truth;  // int64 [U]: true labels of that stream, for monitoring only
  at::Tensor test_images;      // uint8 [T, 3, H, W]
  at::Tensor test_labels;      // int64 [T]
  std::vector<std::string> class_names;
  std::vector<double> class_prior;  // labeled class distribution (logit adjustment)
};

struct TrainerSettings {
  ModelConfig model;
  TrainConfig train;
  std::int64_t seed = 0;  // the run seed; with `generation` it derives every generator
  int generation = 0;
  int checkpoint_every = 0;       // steps; 0 = only at the end
  std::string label = "train";    // progress label, e.g. "gen 2"
  std::int64_t later_steps = 0;   // steps of the generations after this one (the run's ETA)
  EventWriter* events = nullptr;  // TensorBoard scalars of each evaluation; not owned, may be null
  // model.init_from: the backbone every generation's model starts from (PyTorch WRN names,
  // models/wrn_weights.h), read once by the caller; not owned, null = random initialisation.
  const NamedTensors* init_weights = nullptr;
  std::string init_source;  // the file it came from, for messages
};

struct GenerationOutcome {
  Evaluation final_ema;         // EMA model on the test set after the last step
  AccuracySummary ema_summary;  // over the per-epoch EMA accuracies
  std::int64_t steps = 0;
  double seconds = 0.0;  // wall time of this process's share of the training
};

// The inputs of one step: the views, augmented and normalised, on the device.
struct StepBatch {
  at::Tensor inputs;           // float [B + 2U, 3, H, W]: labeled weak, unlabeled weak, strong;
                               // mixmatch: [B + K U]: labeled weak, K unlabeled weak views
  at::Tensor labels;           // int64 [B]: targets of the labeled images
  at::Tensor unlabeled_truth;  // int64 [U]: hidden true labels (monitoring), may be undefined
  MixUpDraw mix;               // mixmatch: MixUp's partners and weights over the B + K U rows
};

class FixMatchTrainer {
 public:
  FixMatchTrainer(TrainerSettings settings, at::Device device, TrainingData data,
                  std::filesystem::path out_dir, DistributionAligner alignment = nullptr);

  // Trains from the checkpoint in out_dir when `resume` and one exists, else from scratch.
  // Throws Interrupted after checkpointing when a stop was requested, TrainingDiverged on a
  // non-finite loss (keeping the last good checkpoint).
  GenerationOutcome run(bool resume);

  // The step in two halves, public so that `crest bench` can time them apart:
  // sampling and augmentation, then forward, loss, backward, optimiser and EMA.
  StepBatch draw_batch();
  void optimize(const StepBatch& batch, double lr);
  void step(double lr);  // both, and the step counter

  WideResNet& model() { return model_; }
  WideResNet& ema_model() { return ema_model_; }

  std::int64_t total_steps() const;

  // How the step runs here: {"amp_bf16", "channels_last", "cudnn_benchmark", "sgd",
  // "cuda_graph"}, after resolving the train.* settings for the device.
  nlohmann::json fast_path() const;

 private:
  // The constructor's parts: the raw and EMA models (initialised from the run seed, on the
  // device, in the resolved memory format), the SGD with its two weight-decay groups, and the
  // state module every checkpoint holds.
  void build_models();
  void build_optimizer();
  void register_state();
  // Forward, loss, backward, SGD, EMA and statistics on `batch`; with `device_lr` the SGD reads
  // the rate from device memory (the CUDA graph path).
  void run_step(const StepBatch& batch, bool device_lr);
  // The loss of `batch` and its statistics (float64 [kStatCount], on the device) under
  // train.algorithm: FixMatch's one forward over all views (ssl/fixmatch.h), or MixMatch's guess
  // and mixed forwards (ssl/mixmatch.h).
  std::pair<at::Tensor, at::Tensor> fixmatch_losses(const StepBatch& batch);
  std::pair<at::Tensor, at::Tensor> mixmatch_losses(const StepBatch& batch);

  // out_dir/checkpoint.pt (io/checkpoint.h) holds the trainer's state module: everything a
  // resume needs to continue bit for bit. Saving is skipped once a non-finite loss was seen, so
  // the last good checkpoint is kept. Loading throws InputError when the checkpoint was written
  // for another number of steps, DataError when it does not fit (io/checkpoint.h).
  void save_checkpoint();
  void load_checkpoint();
  // Restores the checkpoint (resume) and the metrics history up to its step, or starts fresh.
  void open(bool resume);
  // Raw and logit-adjusted evaluation of `net` on the test set, from one forward pass.
  std::pair<Evaluation, Evaluation> evaluate_test(WideResNet& net);
  // The evaluation record at the current step: both models on the test set and the running
  // training statistics since the previous record. Writes nothing.
  MetricsLine evaluate(double lr, double steps_per_sec);
  // Appends `line` to metrics.jsonl (and its scalars to the TensorBoard events, when on) and
  // starts the next window of running statistics.
  void record(const MetricsLine& line);
  // The progress bar's fields: from an evaluation `line`, or (nullptr) the running statistics.
  ProgressFields progress_fields(double lr, const MetricsLine* line) const;
  // Whether every parameter and floating-point buffer of the raw and EMA models is finite (one
  // device synchronisation).
  bool weights_finite();
  // Throws TrainingDiverged once a non-finite loss was seen or a weight or BatchNorm statistic
  // is non-finite; the message says which, and whether a good checkpoint exists. Called at
  // every evaluation and before every checkpoint, so neither ever sees a non-finite model.
  void check_finite();
  // Whether to stop after `step` on a stop request (SIGINT/SIGTERM): at once with one rank, at
  // the same step on every rank with several (dist/world.h).
  bool stop_now(std::int64_t step, std::int64_t total_steps);
  // The step loop from the current step to the end: evaluations, checkpoints, stop requests.
  void train_to_end(Progress& progress, std::int64_t first_step,
                    std::chrono::steady_clock::time_point start_time);
  // The final EMA evaluation and the summary of the generation; `seconds`: this process's share.
  GenerationOutcome final_outcome(double seconds);
  // The generation's per_class.csv, confusion.csv and summary.json.
  void write_outcome(const GenerationOutcome& outcome);

  struct Impl;
  std::shared_ptr<Impl> impl_;
  WideResNet model_{nullptr};
  WideResNet ema_model_{nullptr};
};

// A seed for one purpose of one generation, derived from the run seed (splitmix64).
std::uint64_t derive_seed(std::uint64_t run_seed, std::uint64_t generation, std::uint64_t purpose);

}  // namespace crest
