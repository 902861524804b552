#include "crest/ssl/training_loop.h"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>

#include "crest/dist/world.h"
#include "crest/io/run_dir.h"
#include "crest/io/run_files.h"
#include "crest/util/error.h"
#include "crest/util/progress.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

// Now, UTC, as ISO 8601 to the second.
std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// One training's run through the loop: the pieces and the step of the last good checkpoint.
class Loop {
 public:
  Loop(StepEngine& engine, Learner& learner, RunSink& sink, const LoopSettings& settings)
      : engine_(engine),
        learner_(learner),
        sink_(sink),
        s_(settings),
        checkpoint_path_(settings.dir / kCheckpointFile) {}

  // Restores the checkpoint (resume) and the evaluation records up to its step, or starts the
  // training's records afresh.
  void open(bool resume) {
    if (!resume || !fs::exists(checkpoint_path_)) {
      sink_.start_metrics(s_.dir, s_.kind);
      return;
    }
    const CheckpointHeader header = engine_.load(checkpoint_path_);
    if (header.total_steps != s_.total_steps) {
      throw InputError(checkpoint_path_.string() + " was written for " +
                       std::to_string(header.total_steps) + " steps, the config asks for " +
                       std::to_string(s_.total_steps) + "; resume with the run's own config");
    }
    if (header.step < 0 || header.step > header.total_steps) {
      throw DataError(checkpoint_path_.string() + " records step " + std::to_string(header.step) +
                      " of " + std::to_string(header.total_steps) +
                      " (damaged); move it away to start this training over");
    }
    checkpoint_step_ = header.step;
    // metrics.jsonl keeps the lines up to the checkpoint's step; later ones are redone.
    result_.lines = sink_.resume_metrics(s_.dir, s_.kind, header.step);
    spdlog::info("{}: resuming at step {} of {}", s_.label, header.step, s_.total_steps);
  }

  LoopResult run() {
    const auto start = std::chrono::steady_clock::now();
    auto seconds = [&start]() {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    if (!s_.banner.empty()) spdlog::info("{}", s_.banner);
    record_execution();
    Progress progress(s_.label, s_.total_steps, engine_.steps_done(), s_.later_steps);
    try {
      train_to_end(progress, seconds);
    } catch (const TrainingDiverged&) {
      progress.finish();
      throw;
    }
    progress.finish();
    result_.seconds = seconds();
    return std::move(result_);
  }

 private:
  template <typename Seconds>
  void train_to_end(Progress& progress, const Seconds& seconds) {
    const std::int64_t first_step = engine_.steps_done();
    const std::int64_t total = s_.total_steps;
    while (engine_.steps_done() < total) {
      const double lr = s_.lr(engine_.steps_done());
      engine_.step(lr);
      const std::int64_t step = engine_.steps_done();
      if (step % s_.steps_per_epoch == 0 || step == total) {
        check_finite();
        const double elapsed = seconds();
        EvaluationInput input;
        input.step = step;
        input.epoch = step / s_.steps_per_epoch;
        input.lr = lr;
        input.steps_per_sec = elapsed > 0 ? static_cast<double>(step - first_step) / elapsed : 0.0;
        input.stats = engine_.mean_stats();
        const EpochLine line = learner_.evaluate(input);
        sink_.epoch(s_.dir, line);
        result_.lines.push_back(line);
        engine_.reset_stats();
        // On a terminal each evaluation stays on screen as a line; crest.log gets it either way.
        progress.record(step, learner_.progress_fields(lr, at::Tensor(), &line));
      } else if (progress.due()) {
        progress.update(step, learner_.progress_fields(lr, engine_.local_stats(), nullptr));
      }
      const bool checkpoint_due = s_.checkpoint_every > 0 && step % s_.checkpoint_every == 0;
      if (checkpoint_due || step == total) save_checkpoint();
      if (engine_.stop_agreed(step, total)) {
        progress.finish();
        if (checkpoint_step_ != step) save_checkpoint();
        throw Interrupted(s_.label + ": stopped at step " + std::to_string(step) +
                          "; checkpoint written to " + checkpoint_path_.string() +
                          ". Continue with --resume");
      }
    }
  }

  // This stretch of the training in execution.json.
  void record_execution() {
    ExecutionSegment segment = s_.execution;
    segment.from_step = engine_.steps_done();
    segment.started = utc_now();
    segment.command = current_command_line();
    segment.world_size = dist::world().size();
    segment.threads = at::get_num_threads();
    segment.crest_version = CREST_VERSION;
    segment.torch_version = CREST_TORCH_VERSION;
    sink_.training_started(s_.dir, segment);
  }

  // Never replaces a good checkpoint with a non-finite model.
  void save_checkpoint() {
    check_finite();
    torch::nn::Module& state = engine_.state_for_save();  // collective: gathers the ranks' parts
    sink_.checkpoint(checkpoint_path_, state, {engine_.steps_done(), s_.total_steps});
    checkpoint_step_ = engine_.steps_done();
    spdlog::debug("checkpoint at step {} -> {}", checkpoint_step_, checkpoint_path_.string());
  }

  // Throws TrainingDiverged once a non-finite loss was seen on any rank or a weight or BatchNorm
  // statistic is non-finite; the message says which, and whether a good checkpoint exists.
  // Called at every evaluation and before every checkpoint, so neither ever sees a non-finite
  // model.
  void check_finite() {
    const bool loss_finite = !engine_.loss_diverged();
    if (loss_finite && engine_.weights_finite()) return;
    const std::string kept = checkpoint_step_ >= 0
                                 ? "the last good checkpoint (" + checkpoint_path_.string() +
                                       ", step " + std::to_string(checkpoint_step_) + ") was kept"
                                 : "no checkpoint had been written yet, so " + s_.restart;
    throw TrainingDiverged(
        s_.label + ": " +
        (loss_finite ? "the model's weights or BatchNorm statistics became non-finite (NaN or inf)"
                     : "the loss became non-finite (NaN or inf)") +
        " by step " + std::to_string(engine_.steps_done()) + "; training stopped and " + kept +
        ". Lower " + s_.lr_key + " or check the data");
  }

  StepEngine& engine_;
  Learner& learner_;
  RunSink& sink_;
  const LoopSettings& s_;
  const fs::path checkpoint_path_;
  std::int64_t checkpoint_step_ = -1;  // the step of the checkpoint on disk (-1: none yet)
  LoopResult result_;
};

}  // namespace

LoopResult run_training_loop(StepEngine& engine, Learner& learner, RunSink& sink,
                             const LoopSettings& settings, bool resume) {
  if (settings.total_steps < 1 || settings.steps_per_epoch < 1 || !settings.lr) {
    throw std::logic_error("run_training_loop: needs total_steps, steps_per_epoch >= 1 and lr");
  }
  Loop loop(engine, learner, sink, settings);
  loop.open(resume);
  return loop.run();
}

}  // namespace crest
