// The one training loop with a fake learner (a tiny WRN on random inputs drawn from the engine's
// generator, a deterministic cross-entropy), in milliseconds: the evaluation and checkpoint
// cadence, the schedule's rates, stop and exact resume, non-finite losses and weights.
#include "crest/ssl/training_loop.h"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <limits>
#include <utility>
#include <vector>

#include "crest/io/checkpoint.h"
#include "crest/io/file.h"
#include "crest/io/pretrain_files.h"
#include "crest/ssl/engine.h"
#include "crest/ssl/train_state.h"
#include "crest/util/error.h"
#include "crest/util/signals.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

// A module whose buffer counts the batches drawn: learner state the checkpoint must carry.
struct DrawCounterImpl : torch::nn::Module {
  DrawCounterImpl() { draws = register_buffer("draws", at::zeros({}, at::kLong)); }
  at::Tensor draws;
};
TORCH_MODULE(DrawCounter);

class FakeLearner final : public Learner {
 public:
  explicit FakeLearner(WideResNet model) : model_(std::move(model)) {}
  int stat_count() const override { return 2; }
  void register_state(StateTree& tree) override {
    tree.add_module("counter", counter_.ptr(), /*per_rank=*/true);
  }
  StepBatch draw_batch(at::Generator& generator) override {
    counter_->draws.add_(1);
    StepBatch batch;
    batch.inputs = at::rand({4, 3, 8, 8}, generator) * 2 - 1;
    batch.labels = at::randint(2, {4}, generator);
    return batch;
  }
  StepLoss loss(const StepBatch& batch, std::int64_t step) override {
    at::Tensor loss = at::cross_entropy_loss(model_->forward(batch.inputs), batch.labels);
    if (step == nan_at_step) loss = loss * std::numeric_limits<double>::quiet_NaN();
    if (step == stop_at_step) std::raise(SIGINT);
    steps_seen.push_back(step);
    return {loss, at::stack({loss.detach().to(at::kDouble), at::ones({}, at::kDouble)})};
  }
  bool graph_capturable() const override { return true; }
  EpochLine evaluate(const EvaluationInput& input) override {
    PretrainLine line;
    line.step = input.step;
    line.epoch = input.epoch;
    line.lr = input.lr;
    const auto* st = input.stats.data_ptr<double>();
    line.loss = st[0] / st[1];
    // Ratios in metrics.jsonl: the steps since the previous evaluation / 100, the batches drawn
    // so far / 100.
    line.train_rotation_accuracy = st[1] / 100;
    line.test_rotation_accuracy = static_cast<double>(counter_->draws.item<std::int64_t>()) / 100;
    return line;
  }
  ProgressFields progress_fields(double, const at::Tensor&, const EpochLine*) const override {
    return {};
  }

  std::int64_t nan_at_step = -1;
  std::int64_t stop_at_step = -1;
  std::vector<std::int64_t> steps_seen;

 private:
  WideResNet model_;
  DrawCounter counter_;
};

// The sink's calls, in order.
class RecordingSink final : public RunSink {
 public:
  void start_metrics(const fs::path&, EpochKind) override { events.push_back("start"); }
  void epoch(const fs::path&, const EpochLine& line) override {
    lines.push_back(std::get<PretrainLine>(line));
    events.push_back("epoch " + std::to_string(lines.back().step));
  }
  void checkpoint(const fs::path&, torch::nn::Module&, const CheckpointHeader& header) override {
    events.push_back("checkpoint " + std::to_string(header.step));
  }
  std::vector<std::string> events;
  std::vector<PretrainLine> lines;
};

// A fresh model, optimiser, learner and engine from seed 7.
struct Trainee {
  Trainee() {
    WideResNetOptions options;
    options.depth = 10;
    options.width = 1;
    options.num_classes = 2;
    model = WideResNet(options);
    at::Generator init = make_generator(at::kCPU, 7);
    initialize_wide_resnet(*model, init);
    model->train();
    learner = std::make_unique<FakeLearner>(model);
    auto sgd = std::make_unique<Sgd>(sgd_groups_without_bn_decay(*model, 5e-4), 0.9, true,
                                     resolve_sgd_kernels(SgdChoice::kAuto, at::kCPU));
    EngineSettings settings;
    settings.label = "fake";
    settings.data_seed = 11;
    engine = std::make_unique<StepEngine>(settings, at::kCPU, model, WideResNet(nullptr),
                                          std::move(sgd), *learner);
  }
  WideResNet model{nullptr};
  std::unique_ptr<FakeLearner> learner;
  std::unique_ptr<StepEngine> engine;
};

class TrainingLoopTest : public TempDirTest {
 protected:
  void TearDown() override {
    reset_stop_request();
    TempDirTest::TearDown();
  }
  LoopSettings settings(const std::string& name) const {
    LoopSettings s;
    s.dir = dir_ / name;
    s.kind = EpochKind::kPretrain;
    s.label = "fake";
    s.total_steps = 10;
    s.steps_per_epoch = 3;
    s.checkpoint_every = 4;
    s.lr = [](std::int64_t k) { return 0.1 / static_cast<double>(k + 1); };
    return s;
  }
};

TEST_F(TrainingLoopTest, EvaluatesEachEpochAndAtTheEndAndCheckpointsOnItsCadence) {
  Trainee t;
  RecordingSink sink;
  run_training_loop(*t.engine, *t.learner, sink, settings("a"), false);
  const std::vector<std::string> expected = {"start",    "epoch 3",      "checkpoint 4",
                                             "epoch 6",  "checkpoint 8", "epoch 9",
                                             "epoch 10", "checkpoint 10"};
  EXPECT_EQ(sink.events, expected);
  ASSERT_EQ(sink.lines.size(), 4u);
  // Each evaluation sees the statistics of its own window and the rate of its last step.
  EXPECT_DOUBLE_EQ(sink.lines[0].train_rotation_accuracy, 0.03);
  EXPECT_DOUBLE_EQ(sink.lines[3].train_rotation_accuracy, 0.01);
  EXPECT_DOUBLE_EQ(sink.lines[3].test_rotation_accuracy, 0.10);
  EXPECT_DOUBLE_EQ(sink.lines[0].lr, 0.1 / 3);
  EXPECT_DOUBLE_EQ(sink.lines[3].lr, 0.1 / 10);
  EXPECT_EQ(sink.lines[2].epoch, 3);
  EXPECT_EQ(t.engine->steps_done(), 10);
  const std::vector<std::int64_t> steps = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_EQ(t.learner->steps_seen, steps);
}

TEST_F(TrainingLoopTest, CheckpointsOnlyAtTheEndWhenNoCadenceIsSet) {
  Trainee t;
  RecordingSink sink;
  LoopSettings s = settings("a");
  s.checkpoint_every = 0;
  s.steps_per_epoch = 5;
  run_training_loop(*t.engine, *t.learner, sink, s, false);
  const std::vector<std::string> expected = {"start", "epoch 5", "epoch 10", "checkpoint 10"};
  EXPECT_EQ(sink.events, expected);
}

TEST_F(TrainingLoopTest, StopsWithACheckpointAndResumesToTheSameWeightsAndRecords) {
  Trainee whole;
  FolderSink folder(dir_);
  const LoopResult uninterrupted =
      run_training_loop(*whole.engine, *whole.learner, folder, settings("whole"), false);
  const std::string expected = weights_fingerprint(*whole.model);

  install_stop_handlers();
  std::raise(SIGINT);  // honoured after the first step, with a checkpoint
  {
    Trainee first;
    expect_error<Interrupted>(
        [&] { run_training_loop(*first.engine, *first.learner, folder, settings("cut"), false); },
        {"fake: stopped at step 1", "checkpoint.pt", "--resume"});
  }
  reset_stop_request();
  Trainee second;
  const LoopResult resumed =
      run_training_loop(*second.engine, *second.learner, folder, settings("cut"), true);
  EXPECT_EQ(weights_fingerprint(*second.model), expected);
  // The learner's own state (the batches drawn) came back with the checkpoint.
  ASSERT_EQ(resumed.lines.size(), uninterrupted.lines.size());
  for (std::size_t i = 0; i < resumed.lines.size(); ++i) {
    const auto& a = std::get<PretrainLine>(uninterrupted.lines[i]);
    const auto& b = std::get<PretrainLine>(resumed.lines[i]);
    EXPECT_EQ(a.step, b.step);
    EXPECT_EQ(a.loss, b.loss) << "evaluation " << i;
    EXPECT_EQ(a.test_rotation_accuracy, b.test_rotation_accuracy) << "draws at evaluation " << i;
  }
  EXPECT_EQ(read_file(dir_ / "whole" / "metrics.jsonl").size(),
            read_file(dir_ / "cut" / "metrics.jsonl").size());
}

TEST_F(TrainingLoopTest, AResumeRedoesTheRecordsAfterTheCheckpoint) {
  FolderSink folder(dir_);
  install_stop_handlers();
  {
    Trainee first;
    first.learner->stop_at_step = 6;  // a stop request during the seventh step
    expect_error<Interrupted>(
        [&] { run_training_loop(*first.engine, *first.learner, folder, settings("cut"), false); },
        {"stopped at step 7"});
  }
  reset_stop_request();
  // A line written after the checkpoint, as a kill between an evaluation and the next
  // checkpoint leaves it.
  PretrainLine late;
  late.step = 9;
  append_pretrain_line(dir_ / "cut" / "metrics.jsonl", late);
  Trainee second;
  const LoopResult resumed =
      run_training_loop(*second.engine, *second.learner, folder, settings("cut"), true);
  std::vector<std::int64_t> steps;
  for (const EpochLine& line : resumed.lines) steps.push_back(std::get<PretrainLine>(line).step);
  const std::vector<std::int64_t> expected = {3, 6, 9, 10};
  EXPECT_EQ(steps, expected);
  std::vector<std::int64_t> on_disk;
  for (const PretrainLine& line : truncate_pretrain_metrics(dir_ / "cut" / "metrics.jsonl", 10)) {
    on_disk.push_back(line.step);
  }
  EXPECT_EQ(on_disk, expected);  // the stale line at step 9 was dropped, then redone once
  // The first step after the resume is step 7 (0-based), with the rate the schedule gives it.
  EXPECT_EQ(second.learner->steps_seen.front(), 7);
}

TEST_F(TrainingLoopTest, RefusesACheckpointOfAnotherLength) {
  FolderSink folder(dir_);
  Trainee a;
  run_training_loop(*a.engine, *a.learner, folder, settings("a"), false);
  Trainee b;
  LoopSettings longer = settings("a");
  longer.total_steps = 12;
  expect_input_error([&] { run_training_loop(*b.engine, *b.learner, folder, longer, true); },
                     {"was written for 10 steps", "asks for 12"});
}

TEST_F(TrainingLoopTest, ANonFiniteLossStopsAtTheNextEvaluationKeepingTheLastGoodCheckpoint) {
  Trainee t;
  t.learner->nan_at_step = 4;  // the fifth step
  RecordingSink sink;
  expect_error<TrainingDiverged>(
      [&] { run_training_loop(*t.engine, *t.learner, sink, settings("a"), false); },
      {"fake: the loss became non-finite", "by step 6", "last good checkpoint", "step 4",
       "Lower train.lr"});
  const std::vector<std::string> expected = {"start", "epoch 3", "checkpoint 4"};
  EXPECT_EQ(sink.events, expected);  // nothing written after the bad step
}

TEST_F(TrainingLoopTest, NonFiniteWeightsAreCaughtBeforeTheFirstCheckpoint) {
  Trainee t;
  RecordingSink sink;
  LoopSettings s = settings("a");
  s.lr = [](std::int64_t) { return std::numeric_limits<double>::infinity(); };
  s.lr_key = "pretrain.lr";
  s.restart = "--resume starts over";
  expect_error<TrainingDiverged>(
      [&] { run_training_loop(*t.engine, *t.learner, sink, s, false); },
      {"non-finite", "no checkpoint had been written yet, so --resume starts over",
       "Lower pretrain.lr"});
  EXPECT_EQ(sink.events, std::vector<std::string>{"start"});
}

}  // namespace
}  // namespace crest
