// The training of one CReST generation: its models (raw and EMA), optimiser and learner
// (train.algorithm: ssl/semi_learners.h), trained by the one loop (ssl/training_loop.h) with the
// one step engine (ssl/engine.h); the generation's outcome (the final EMA evaluation, the
// summary with the weights' fingerprints) for the sink (io/sink.h).
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
#include "crest/io/sink.h"
#include "crest/io/training_files.h"
#include "crest/io/weight_files.h"
#include "crest/metrics/metrics.h"
#include "crest/models/wrn.h"
#include "crest/ssl/alignment.h"
#include "crest/ssl/engine.h"
#include "crest/ssl/semi_learners.h"
#include "crest/ssl/sgd.h"

namespace crest {

struct TrainerSettings {
  ModelConfig model;
  TrainConfig train;
  AcrConfig acr;          // train.algorithm acr (and semi: tau12, tau2, temperature)
  SemiConfig semi;        // train.algorithm semi
  DasoConfig daso;        // train.algorithm daso
  DmlplConfig dmlpl;      // train.algorithm dmlpl
  std::int64_t seed = 0;  // the run seed; with `generation` it derives every generator
  int generation = 0;
  int checkpoint_every = 0;      // steps; 0 = only at the end
  std::string label = "train";   // progress label, e.g. "gen 2"
  std::int64_t later_steps = 0;  // steps of the generations after this one (the run's ETA)
  // Where the generation's records go (io/sink.h); not owned. Null: the generation's folder
  // alone, written by rank 0 (make_run_sink with a FolderSink).
  RunSink* sink = nullptr;
  // model.init_from: the backbone every generation's model starts from (PyTorch WRN names,
  // models/wrn_weights.h), read once by the caller; not owned, null = random initialisation.
  const NamedTensors* init_weights = nullptr;
  std::string init_source;  // the file it came from, for messages
  // crest.warm_start: the previous generation's folder (RUN/gen_{g-1}), whose final EMA weights
  // (every parameter and buffer, heads included) this generation starts from instead of the
  // initialisation above, for the raw and the EMA model alike; empty = start as above. A
  // resume from the generation's own checkpoint does not read them.
  std::filesystem::path warm_start_from;
};

struct GenerationOutcome {
  Evaluation final_ema;         // EMA model on the test set after the last step
  AccuracySummary ema_summary;  // over the per-epoch EMA accuracies
  std::int64_t steps = 0;
  double seconds = 0.0;  // wall time of this process's share of the training
};

// The SGD groups of a generation's model: coupled L2 weight decay (train.weight_decay) on every
// weight but BatchNorm's, and, for the sigmoid losses (cb_sigmoid, cb_focal: ssl/losses.h
// is_sigmoid_loss), not on the classifier bias either, as Cui et al. (class-balanced-loss,
// src/cifar_main.py _tower_fn); for the other losses that bias is decayed as before.
std::vector<SgdGroup> generation_sgd_groups(WideResNetImpl& model, const TrainConfig& train);

class GenerationTrainer {
 public:
  // Builds the generation's raw and EMA models (initialised from the run seed on the CPU, or
  // from settings.init_weights, then on the device in the resolved memory format; for the sigmoid
  // losses the classifier bias at sigmoid_prior_bias; with train.sync_bn the model's BatchNorm
  // synchronised over the ranks of dist::world()), its SGD with generation_sgd_groups, the learner
  // of train.algorithm and the step engine. InputError for an empty labeled set, unlabeled_ratio >
  // 0 without unlabeled images, or a train.* setting this device cannot honour.
  // With settings.warm_start_from and no checkpoint in out_dir yet, both models then take the
  // previous generation's final EMA weights (io/checkpoint.h read_generation_weights), checked
  // against the ema_fingerprint its summary.json recorded; DataError naming the file, prefixed
  // "crest.warm_start:", when that checkpoint is missing, damaged or holds other weights.
  GenerationTrainer(TrainerSettings settings, at::Device device, TrainingData data,
                    std::filesystem::path out_dir, DistributionAligner alignment = nullptr);
  ~GenerationTrainer();
  GenerationTrainer(const GenerationTrainer&) = delete;
  GenerationTrainer& operator=(const GenerationTrainer&) = delete;

  // Trains from the checkpoint in out_dir when `resume` and one exists, else from scratch (or
  // the warm start), and hands the generation's outcome (per_class.csv, confusion.csv,
  // summary.json, with warm_start_fingerprint when warm-started) to the sink.
  // Throws Interrupted after checkpointing when a stop was requested, TrainingDiverged on a
  // non-finite loss (keeping the last good checkpoint).
  GenerationOutcome run(bool resume);

  // The step in two halves, public so that `crest bench` can time them apart:
  // sampling and augmentation, then forward, loss, backward, optimiser and EMA.
  StepBatch draw_batch();
  void optimize(const StepBatch& batch, double lr);
  void step(double lr);  // both, and the step counter

  WideResNet& model();
  WideResNet& ema_model();
  // The views the learner draws of each unlabeled image.
  int unlabeled_view_count() const;

  std::int64_t total_steps() const;

  // How the step runs here: {"amp_bf16", "channels_last", "cudnn_benchmark", "sgd",
  // "cuda_graph"}, after resolving the train.* settings for the device.
  nlohmann::json fast_path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crest
