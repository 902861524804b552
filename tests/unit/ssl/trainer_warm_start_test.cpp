// crest.warm_start in the trainer (src/ssl/trainer.cpp): generation 1 starts from generation 0's
// final EMA weights bit for bit (raw and EMA model, every head), checked against gen_0's
// summary.json; a missing, damaged or replaced gen_0 checkpoint is a DataError naming it, unless
// generation 1 resumes from its own checkpoint.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "crest/data/prepare.h"
#include "crest/io/checkpoint.h"
#include "crest/io/file.h"
#include "crest/selftrain/run_data.h"
#include "crest/ssl/trainer.h"
#include "crest/util/error.h"
#include "crest/util/signals.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

class TrainerWarmStartTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    DataConfig data;
    data.dataset = DatasetKind::kSynthetic;
    data.imbalance_ratio = 4;
    data.label_fraction = 0.3;
    data.synthetic.classes = 3;
    data.synthetic.train_per_class = 40;
    data.synthetic.test_per_class = 10;
    run_ = make_run_data(prepare_data(data), at::kCPU);
    for (std::int64_t p : run_.labeled_positions) {
      targets_.push_back(run_.lt_labels[static_cast<std::size_t>(p)]);
    }
    settings_.model.depth = 10;
    settings_.model.width = 1;
    settings_.model.bn_momentum = 0.1;
    settings_.train.batch_size = 4;
    settings_.train.unlabeled_ratio = 2;
    settings_.train.steps_per_epoch = 3;
    settings_.train.epochs = 1;
    settings_.train.ema_decay = 0.9;
    settings_.train.eval_batch_size = 16;
    settings_.checkpoint_every = 1;
  }
  void TearDown() override {
    reset_stop_request();
    TempDirTest::TearDown();
  }

  std::unique_ptr<GenerationTrainer> trainer(const std::string& name, int generation,
                                             const fs::path& warm_from = {}) {
    TrainerSettings s = settings_;
    s.generation = generation;
    s.label = "gen " + std::to_string(generation);
    s.warm_start_from = warm_from;
    return std::make_unique<GenerationTrainer>(
        s, at::kCPU, generation_data(run_, run_.labeled_positions, targets_), dir_ / name);
  }
  void train(const std::string& name, int generation, const fs::path& warm_from = {},
             bool resume = false) {
    trainer(name, generation, warm_from)->run(resume);
  }
  TrainingSummary summary(const std::string& name) {
    return read_training_summary(dir_ / name / "summary.json");
  }

  RunData run_;
  std::vector<std::int64_t> targets_;
  TrainerSettings settings_;
};

// Every parameter and buffer of `a` equals `b`'s bit for bit (and there are as many).
void expect_same_tensors(torch::nn::Module& a, torch::nn::Module& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  const auto ba = a.named_buffers(), bb = b.named_buffers();
  ASSERT_EQ(pa.size(), pb.size());
  ASSERT_EQ(ba.size(), bb.size());
  for (const auto& p : pa) EXPECT_TRUE(at::equal(p.value(), pb[p.key()])) << p.key();
  for (const auto& x : ba) EXPECT_TRUE(at::equal(x.value(), bb[x.key()])) << x.key();
}

TEST_F(TrainerWarmStartTest, StartsFromThePreviousEmaBitForBitEveryHeadIncluded) {
  // acr's model has a second classifier (fc_balanced): it is carried over too.
  for (TrainAlgorithm algorithm : {TrainAlgorithm::kFixMatch, TrainAlgorithm::kAcr}) {
    SCOPED_TRACE(to_string(algorithm));
    settings_.train.algorithm = algorithm;
    const std::string tag = to_string(algorithm);
    train(tag + "0", 0);
    const std::string previous = summary(tag + "0").ema_fingerprint;
    // The previous EMA, read independently of the trainer.
    auto reference = trainer(tag + "ref", 1);
    read_checkpoint_module(dir_ / (tag + "0") / "checkpoint.pt", "ema", *reference->model());
    ASSERT_EQ(weights_fingerprint(*reference->model()), previous);

    auto warm = trainer(tag + "1", 1, dir_ / (tag + "0"));
    expect_same_tensors(*warm->model(), *reference->model());
    expect_same_tensors(*warm->ema_model(), *reference->model());
    EXPECT_EQ(weights_fingerprint(*warm->ema_model()), previous);
    // Without the warm start generation 1 starts from its seeded initialisation.
    EXPECT_NE(weights_fingerprint(*trainer(tag + "cold", 1)->model()), previous);

    warm->run(false);
    EXPECT_EQ(summary(tag + "1").warm_start_fingerprint, previous);
    train(tag + "cold", 1);
    EXPECT_TRUE(summary(tag + "cold").warm_start_fingerprint.empty());
    EXPECT_NE(summary(tag + "1").ema_fingerprint, summary(tag + "cold").ema_fingerprint);
  }
}

TEST_F(TrainerWarmStartTest, AMissingDamagedOrReplacedPreviousCheckpointIsADataError) {
  train("gen_0", 0);
  settings_.seed = 7;
  train("other", 0);  // another run's generation 0: same model, other weights
  const fs::path checkpoint = dir_ / "gen_0" / "checkpoint.pt";
  const std::string original = read_file(checkpoint);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cut", original.substr(0, original.size() / 2)},
      {"not a checkpoint", "not a checkpoint"},
      {"empty", ""},
      {"replaced", read_file(dir_ / "other" / "checkpoint.pt")},
  };
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    write_file_atomic(checkpoint, bytes);
    expect_data_error([&] { trainer("gen_1", 1, dir_ / "gen_0"); },
                      {"crest.warm_start", checkpoint.string()});
    EXPECT_FALSE(fs::exists(dir_ / "gen_1" / "checkpoint.pt"));
  }
}

TEST_F(TrainerWarmStartTest, MissingPreviousFilesNameThemAndSayWhatToDo) {
  train("gen_0", 0);
  fs::remove(dir_ / "gen_0" / "checkpoint.pt");
  expect_data_error([&] { trainer("gen_1", 1, dir_ / "gen_0"); },
                    {"crest.warm_start", (dir_ / "gen_0" / "checkpoint.pt").string(), "is missing",
                     "start a new run folder"});
  train("gen_0b", 0);
  fs::remove(dir_ / "gen_0b" / "summary.json");
  expect_data_error([&] { trainer("gen_1", 1, dir_ / "gen_0b"); },
                    {"crest.warm_start", (dir_ / "gen_0b" / "summary.json").string()});
}

TEST_F(TrainerWarmStartTest, AResumeFromItsOwnCheckpointNeedsNoPreviousCheckpoint) {
  train("gen_0", 0);
  train("whole", 1, dir_ / "gen_0");
  install_stop_handlers();
  std::raise(SIGINT);  // stops after step 1, with a checkpoint
  EXPECT_THROW(train("stopped", 1, dir_ / "gen_0"), Interrupted);
  reset_stop_request();
  fs::remove(dir_ / "gen_0" / "checkpoint.pt");
  train("stopped", 1, dir_ / "gen_0", /*resume=*/true);
  EXPECT_EQ(summary("stopped").ema_fingerprint, summary("whole").ema_fingerprint);
  EXPECT_EQ(summary("stopped").model_fingerprint, summary("whole").model_fingerprint);
  EXPECT_EQ(summary("stopped").warm_start_fingerprint, summary("gen_0").ema_fingerprint);
  // Without a checkpoint of its own the resume starts afresh and needs it again.
  fs::remove(dir_ / "stopped" / "checkpoint.pt");
  expect_data_error([&] { train("stopped", 1, dir_ / "gen_0", /*resume=*/true); },
                    {"crest.warm_start", (dir_ / "gen_0" / "checkpoint.pt").string()});
}

}  // namespace
}  // namespace crest
