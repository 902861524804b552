// The one training loop: a generation of CReST and `crest pretrain` both run here. From the
// current step to the last: a step of the engine (ssl/engine.h) at the schedule's rate; at every
// epoch boundary and at the end a finiteness check, the learner's evaluation handed to the sink
// (io/sink.h) and shown on the progress bar; a checkpoint every `checkpoint_every` steps and at
// the end; on a stop request (SIGINT/SIGTERM, agreed by every rank) a checkpoint and Interrupted.
// A resume restores the checkpoint in `dir` and keeps the evaluation records up to its step.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "crest/io/sink.h"
#include "crest/ssl/engine.h"
#include "crest/ssl/learner.h"

namespace crest {

struct LoopSettings {
  std::filesystem::path dir;  // the training's folder: checkpoint.pt and metrics.jsonl
  EpochKind kind = EpochKind::kGeneration;
  std::string label = "train";  // progress and messages: "gen 1/3", "pretrain"
  std::int64_t total_steps = 0;
  std::int64_t steps_per_epoch = 1;        // evaluation cadence
  int checkpoint_every = 0;                // steps; 0 = only at the end
  std::function<double(std::int64_t)> lr;  // the rate of step k (0-based)
  std::int64_t later_steps = 0;     // steps of the trainings after this one (the progress ETA)
  std::string lr_key = "train.lr";  // named in the divergence message
  std::string restart = "this generation starts over on --resume";  // with no checkpoint yet
  std::string banner;  // logged once the training is open (resumed or fresh), when not empty
  // How the training runs (execution.json): the caller fills device, precision, memory_format,
  // sgd and cuda_graph; the loop the rest (first step, time, command, ranks, threads, versions).
  ExecutionSegment execution;
};

struct LoopResult {
  std::vector<EpochLine> lines;  // every evaluation record of the training, resumed ones first
                                 // (rank 0's; none on ranks that do not write)
  double seconds = 0.0;          // wall time of this process's share of the training
};

// Trains `engine` with `learner` to settings.total_steps, from the checkpoint in settings.dir
// when `resume` and one exists, else from the engine's fresh state. Throws InputError when the
// checkpoint was written for another number of steps, DataError when it records an impossible
// step or does not fit (io/checkpoint.h), TrainingDiverged on a non-finite loss or weight
// (keeping the last good checkpoint), Interrupted after checkpointing on a stop request.
LoopResult run_training_loop(StepEngine& engine, Learner& learner, RunSink& sink,
                             const LoopSettings& settings, bool resume);

}  // namespace crest
