// The step engine: one training step of any learner (ssl/learner.h), eager or replayed as a CUDA
// graph, on one rank or data-parallel, and the resumable state it trains as one module tree.
//
// A step: zero the gradients, the learner's loss, backward (with the bucketed gradient
// all-reduce of dist/gradient_reducer.h overlapped in a multi-rank run, then rank 0's BatchNorm
// statistics everywhere, as torch DDP's broadcast_buffers), the SGD step, the EMA update, and the
// statistics and non-finite flag accumulated on the device (no host synchronisation).
//
// The state module tree (what checkpoint.pt holds, io/checkpoint.h), in this order: model, ema
// (when the engine keeps one), optimizer.K.momentum_buffer, the learner's pieces
// (Learner::register_state), and the buffers generator and stats; in a multi-rank run also
// ranks.R.NAME, the other ranks' per-rank pieces (dist/rank_state.h).
//
// Data parallelism lives here and only here: the broadcast of rank 0's initial weights, the
// gradient reduction, the per-rank sampling seed (dist::rank_seed), the rank-state mirror, the
// mean of the statistics over the ranks, the agreement on stop requests and on divergence, and
// the end-of-training check that every rank holds the same weights.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "crest/config/config.h"
#include "crest/models/wrn.h"
#include "crest/ssl/learner.h"
#include "crest/ssl/sgd.h"

namespace crest {

namespace dist {
class World;
}

struct EngineSettings {
  std::string state_name = "TrainState";  // the root module's name
  std::string label = "train";            // for messages: "gen 1/3", "pretrain"
  std::uint64_t data_seed = 0;  // the sampling generator's seed (per rank: dist::rank_seed)
  double ema_decay = 0.0;       // used when the engine keeps an EMA model
  Toggle cuda_graph = Toggle::kOff;
  bool device_lr = false;  // the rate is read from device memory (required by CUDA graphs)
};

class StepEngine {
 public:
  // Takes the built `model` (on `device`, initialised), the EMA `ema` (null: none; made a copy
  // of the model here) and the optimiser over the model's parameters. In a multi-rank world
  // (dist::world()) broadcasts rank 0's weights and builds the gradient reducer. Registers the
  // state tree (with `learner`'s pieces). InputError for train.cuda_graph=on where it cannot
  // work (not CUDA, not a graph-capable build, several ranks).
  StepEngine(EngineSettings settings, at::Device device, WideResNet model, WideResNet ema,
             std::unique_ptr<Sgd> optimizer, Learner& learner);
  ~StepEngine();
  StepEngine(const StepEngine&) = delete;
  StepEngine& operator=(const StepEngine&) = delete;

  // The learner's next batch (sampling and augmentation on the device).
  StepBatch draw_batch();
  // One step on `batch` at rate `lr` (a CUDA graph replay once captured); the step count is not
  // advanced (bench times this alone).
  void optimize(const StepBatch& batch, double lr);
  // draw_batch, optimize, and the step count.
  void step(double lr);

  std::int64_t steps_done() const { return step_; }
  Sgd& optimizer() { return *optimizer_; }
  bool cuda_graph() const { return cuda_graph_; }
  // How the step runs, for execution.json: device, SGD kernels and CUDA graph filled in (the
  // caller adds precision and memory format, the loop the rest).
  ExecutionSegment execution() const;

  // The statistics since the last reset_stats(): this rank's (local) or each rank's sums
  // averaged over the ranks (collective), float64 on the CPU.
  at::Tensor local_stats() const;
  at::Tensor mean_stats();
  void reset_stats();

  // Whether a non-finite loss was seen on any rank (collective), and whether every parameter and
  // floating-point buffer of the model and EMA is finite (one device synchronisation).
  bool loss_diverged();
  bool weights_finite();

  // Whether to stop after step `step` of `total_steps` on a stop request (SIGINT/SIGTERM): at
  // once with one rank, at the same step on every rank with several (polled every 10 steps and
  // at the end, one small collective).
  bool stop_agreed(std::int64_t step, std::int64_t total_steps);

  // The state tree with its per-rank pieces gathered into rank 0's mirror (collective), ready
  // for the sink to write; and the state restored from `file` (every rank reads it; the step
  // count follows the header). read_checkpoint's errors.
  torch::nn::Module& state_for_save();
  CheckpointHeader load(const std::filesystem::path& file);

  // Throws std::runtime_error when the ranks ended with different weights (a bug of the
  // data-parallel step, never to be written silently). Collective; nothing with one rank.
  void check_ranks_agree();

 private:
  void run_step(const StepBatch& batch, bool device_lr);
  void register_state(Learner& learner);
  struct Graph;

  EngineSettings settings_;
  at::Device device_;
  dist::World& world_;
  Learner& learner_;
  WideResNet model_{nullptr};
  WideResNet ema_model_{nullptr};
  std::unique_ptr<Sgd> optimizer_;
  struct Parts;
  std::unique_ptr<Parts> parts_;
  std::unique_ptr<Graph> graph_;
  bool cuda_graph_ = false;
  std::int64_t step_ = 0;
};

// A seed for one purpose of one generation, derived from the run seed (splitmix64).
std::uint64_t derive_seed(std::uint64_t run_seed, std::uint64_t generation, std::uint64_t purpose);

// train.cuda_graph for `device`; InputError naming the key when `on` cannot work here.
bool resolve_cuda_graph(Toggle choice, const at::Device& device);

}  // namespace crest
