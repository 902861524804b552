// The FixMatch trainer end to end on a tiny synthetic set: outputs, determinism, the checkpoint
// round trip (stop after one step, resume, same weights as an uninterrupted run), divergence.
#include "crest/ssl/trainer.h"

#include <gtest/gtest.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>

#include "crest/data/prepare.h"
#include "crest/io/file.h"
#include "crest/models/wrn_weights.h"
#include "crest/selftrain/run_data.h"
#include "crest/ssl/losses.h"
#include "crest/ssl/predict.h"
#include "crest/ssl/train_state.h"
#include "crest/util/device.h"
#include "crest/util/error.h"
#include "crest/util/signals.h"
#include "test_util.h"

namespace crest {
namespace {

namespace fs = std::filesystem;

class TrainerTest : public TempDirTest {
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
    data_ = data;
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
    settings_.train.epochs = 2;
    settings_.train.ema_decay = 0.9;
    settings_.train.eval_batch_size = 16;
    settings_.checkpoint_every = 2;
  }
  void TearDown() override {
    reset_stop_request();
    TempDirTest::TearDown();
  }

  GenerationOutcome train(const std::string& name, bool resume = false) {
    GenerationTrainer trainer(settings_, at::kCPU,
                              generation_data(run_, run_.labeled_positions, targets_), dir_ / name);
    return trainer.run(resume);
  }
  nlohmann::json summary(const std::string& name) {
    return nlohmann::json::parse(read_file(dir_ / name / "summary.json"));
  }

  DataConfig data_;
  RunData run_;
  std::vector<std::int64_t> targets_;
  TrainerSettings settings_;
};

TEST_F(TrainerTest, WritesItsOutputsAndIsDeterministic) {
  const GenerationOutcome a = train("a");
  EXPECT_EQ(a.steps, 6);
  for (const char* f :
       {"metrics.jsonl", "per_class.csv", "confusion.csv", "summary.json", "checkpoint.pt"}) {
    EXPECT_TRUE(fs::exists(dir_ / "a" / f)) << f;
  }
  std::ifstream metrics(dir_ / "a" / "metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(metrics, line);) {
    const auto entry = nlohmann::json::parse(line);
    EXPECT_EQ(entry["step"].get<int>(), 3 * (lines + 1));
    for (const char* key : {"loss", "loss_x", "loss_u", "mask_rate", "lr", "acc_raw", "acc_ema",
                            "acc_raw_la", "acc_ema_la", "per_class_recall_ema"}) {
      EXPECT_TRUE(entry.contains(key)) << key;
    }
    ++lines;
  }
  EXPECT_EQ(lines, 2);
  train("b");
  EXPECT_EQ(summary("a")["ema_fingerprint"], summary("b")["ema_fingerprint"]);
  EXPECT_EQ(summary("a")["model_fingerprint"], summary("b")["model_fingerprint"]);
  settings_.seed = 1;
  train("c");
  EXPECT_NE(summary("a")["model_fingerprint"], summary("c")["model_fingerprint"]);
}

TEST_F(TrainerTest, StopAndResumeEndsWithTheSameWeights) {
  train("whole");
  install_stop_handlers();
  std::raise(SIGINT);  // the trainer checks between steps: it stops after step 1
  EXPECT_THROW(train("stopped"), Interrupted);
  EXPECT_TRUE(fs::exists(dir_ / "stopped" / "checkpoint.pt"));
  EXPECT_FALSE(fs::exists(dir_ / "stopped" / "summary.json"));
  reset_stop_request();
  const GenerationOutcome resumed = train("stopped", /*resume=*/true);
  EXPECT_EQ(resumed.steps, 6);
  EXPECT_EQ(summary("whole")["model_fingerprint"], summary("stopped")["model_fingerprint"]);
  EXPECT_EQ(summary("whole")["ema_fingerprint"], summary("stopped")["ema_fingerprint"]);
}

TEST_F(TrainerTest, ResumeRefusesACheckpointOfAnotherLength) {
  train("a");
  settings_.train.epochs = 3;
  EXPECT_THROW(train("a", /*resume=*/true), InputError);
}

TEST_F(TrainerTest, DamagedCheckpointIsADataError) {
  fs::create_directories(dir_ / "bad");
  write_file_atomic(dir_ / "bad" / "checkpoint.pt", "not a checkpoint");
  try {
    train("bad", /*resume=*/true);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint.pt"), std::string::npos) << e.what();
  }
}

TEST_F(TrainerTest, Bf16AutocastPathRunsOnCpu) {
  // The CUDA default (train.amp auto) is bf16 autocast; the same code path runs on the CPU.
  settings_.train.amp = Amp::kBf16;
  settings_.train.epochs = 1;
  const GenerationOutcome outcome = train("bf16");
  EXPECT_EQ(outcome.steps, 3);
  const auto line = nlohmann::json::parse(read_file(dir_ / "bf16" / "metrics.jsonl"));
  EXPECT_TRUE(std::isfinite(line["loss"].get<double>()));
}

TEST_F(TrainerTest, NonFiniteLossStopsTraining) {
  settings_.train.lr = 1e30;
  expect_error<TrainingDiverged>([&] { train("nan"); },
                                 {"non-finite", "no checkpoint had been written yet"});
  EXPECT_FALSE(fs::exists(dir_ / "nan" / "summary.json"));
  EXPECT_FALSE(fs::exists(dir_ / "nan" / "checkpoint.pt"));
}

TEST_F(TrainerTest, ANonFiniteModelIsNeverCheckpointedOrEvaluated) {
  // A finite loss does not make a finite model: a NaN in the EMA weights (or an inf in a
  // BatchNorm statistic, what a too-high rate leaves behind) is caught before the first
  // checkpoint or evaluation.
  settings_.checkpoint_every = 1;
  for (const bool ema : {true, false}) {
    const std::string name = ema ? "ema" : "bn";
    GenerationTrainer trainer(settings_, at::kCPU,
                              generation_data(run_, run_.labeled_positions, targets_), dir_ / name);
    {
      at::NoGradGuard no_grad;
      if (ema) {
        // The first element in storage, whatever the layout (channels-last on every device).
        trainer.ema_model()->parameters()[0].as_strided({1}, {1}).fill_(std::nan(""));
      } else {
        for (const auto& b : trainer.model()->named_buffers()) {
          if (b.key().find("running_var") != std::string::npos) {
            b.value().fill_(std::numeric_limits<float>::infinity());
          }
        }
      }
    }
    expect_error<TrainingDiverged>(
        [&] { trainer.run(false); },
        {"weights or BatchNorm statistics", "by step 1", "no checkpoint had been written yet"});
    EXPECT_FALSE(fs::exists(dir_ / name / "checkpoint.pt")) << name;
    EXPECT_FALSE(fs::exists(dir_ / name / "summary.json")) << name;
    EXPECT_EQ(read_file(dir_ / name / "metrics.jsonl"), "") << name;
  }
}

TEST_F(TrainerTest, SgdKernelVariantsTrainToTheSameWeights) {
  // foreach (the default here) and per-parameter loops apply the same rule bit for bit.
  train("foreach");
  settings_.train.sgd = SgdChoice::kLoop;
  train("loop");
  EXPECT_EQ(summary("foreach")["model_fingerprint"], summary("loop")["model_fingerprint"]);
  EXPECT_EQ(summary("foreach")["ema_fingerprint"], summary("loop")["ema_fingerprint"]);
}

TEST_F(TrainerTest, ChannelsLastTrainsLikeContiguousAndResumesExactly) {
  settings_.train.epochs = 1;
  settings_.train.amp = Amp::kOff;  // the layout alone (auto is bf16 on AMX CPUs)
  settings_.train.channels_last = Toggle::kOff;
  {
    GenerationTrainer trainer(settings_, at::kCPU,
                              generation_data(run_, run_.labeled_positions, targets_), dir_ / "y");
    EXPECT_FALSE(trainer.fast_path()["channels_last"].get<bool>());
    EXPECT_FALSE(is_channels_last(*trainer.model()));
  }
  train("contiguous");
  settings_.train.channels_last = Toggle::kOn;
  {
    GenerationTrainer trainer(settings_, at::kCPU,
                              generation_data(run_, run_.labeled_positions, targets_), dir_ / "x");
    EXPECT_TRUE(trainer.fast_path()["channels_last"].get<bool>());
    EXPECT_TRUE(is_channels_last(*trainer.model()));
    EXPECT_TRUE(is_channels_last(*trainer.ema_model()));
  }
  train("nhwc");
  const auto a = nlohmann::json::parse(read_file(dir_ / "contiguous" / "metrics.jsonl"));
  const auto b = nlohmann::json::parse(read_file(dir_ / "nhwc" / "metrics.jsonl"));
  // Only the order of floating-point sums differs.
  EXPECT_NEAR(a["loss"].get<double>(), b["loss"].get<double>(),
              1e-4 * std::abs(a["loss"].get<double>()));
  // Resume restores the layout the checkpoint dropped and continues bit for bit.
  settings_.train.epochs = 2;
  train("whole");
  install_stop_handlers();
  std::raise(SIGINT);
  EXPECT_THROW(train("stopped"), Interrupted);
  reset_stop_request();
  train("stopped", /*resume=*/true);
  EXPECT_EQ(summary("whole")["model_fingerprint"], summary("stopped")["model_fingerprint"]);
}

TEST_F(TrainerTest, FastPathSettingsResolveForTheCpu) {
  GenerationTrainer trainer(settings_, at::kCPU,
                            generation_data(run_, run_.labeled_positions, targets_), dir_ / "x");
  const nlohmann::json f = trainer.fast_path();
  EXPECT_EQ(f["sgd"], "foreach");
  EXPECT_TRUE(f["channels_last"].get<bool>());                   // auto: on, CPU and CUDA
  EXPECT_EQ(f["amp_bf16"].get<bool>(), cpu_has_bf16_compute());  // auto: bf16 on bf16 CPUs
  EXPECT_FALSE(f["cuda_graph"].get<bool>());
  EXPECT_FALSE(f["cudnn_benchmark"].get<bool>());
  settings_.train.cuda_graph = Toggle::kOn;
  expect_input_error([&] { train("graph"); }, {"train.cuda_graph=on", "CUDA device", "off"});
  settings_.train.cuda_graph = Toggle::kAuto;
  settings_.train.sgd = SgdChoice::kFused;
  expect_input_error([&] { train("fused"); }, {"train.sgd=fused", "CUDA"});
}

TEST_F(TrainerTest, CheckpointOfAnotherVersionIsRefusedAndKept) {
  fs::create_directories(dir_ / "old");
  torch::serialize::OutputArchive archive;
  archive.write("version", at::tensor(std::int64_t{1}));
  archive.save_to((dir_ / "old" / "checkpoint.pt").string());
  const std::string before = read_file(dir_ / "old" / "checkpoint.pt");
  expect_data_error([&] { train("old", /*resume=*/true); },
                    {"checkpoint.pt", "version 1", "reads version 3", "move the file away"});
  EXPECT_EQ(read_file(dir_ / "old" / "checkpoint.pt"), before);
}

TEST_F(TrainerTest, CheckpointOfAnotherModelIsADataErrorAndKept) {
  train("a");
  const std::string before = read_file(dir_ / "a" / "checkpoint.pt");
  settings_.model.width = 2;
  expect_data_error([&] { train("a", /*resume=*/true); },
                    {"checkpoint.pt", "model.", "this run needs", "another model or config"});
  EXPECT_EQ(read_file(dir_ / "a" / "checkpoint.pt"), before);
}

TEST_F(TrainerTest, CheckpointCarriesEveryPieceOfState) {
  // The state module is the checkpoint: models, momentum, samplers, generator, statistics.
  train("a");
  torch::serialize::InputArchive archive;
  archive.load_from((dir_ / "a" / "checkpoint.pt").string());
  torch::serialize::InputArchive state;
  archive.read("state", state);
  std::vector<std::string> keys = state.keys();
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"ema", "generator", "labeled_sampler", "model",
                                            "optimizer", "stats", "unlabeled_sampler"}));
}

TEST(PredictLogitsTest, NearTiedLogitsStayApart) {
  // bf16 rounds 5.0 and 5.01 to the same value, and argmax then picks class 0 (a head class);
  // evaluation and pseudo-labelling run in fp32 whatever train.amp says, so class 1 wins.
  EXPECT_EQ(at::tensor({5.0f, 5.01f}).to(at::kBFloat16).to(at::kFloat).argmax().item<int64_t>(), 0);
  WideResNetOptions options;
  options.depth = 10;
  options.width = 1;
  options.num_classes = 2;
  WideResNet net(options);
  for (const auto& p : net->named_parameters()) {
    at::NoGradGuard no_grad;
    if (p.key() == "fc.weight") p.value().zero_();
    if (p.key() == "fc.bias") p.value().copy_(at::tensor({5.0f, 5.01f}));
  }
  const at::Tensor logits = predict_logits(net, at::zeros({5, 3, 32, 32}, at::kByte), 2);
  EXPECT_EQ(logits.scalar_type(), at::kFloat);
  EXPECT_TRUE(logits.argmax(1).eq(1).all().item<bool>());
  EXPECT_NEAR((logits.select(1, 1) - logits.select(1, 0)).min().item<float>(), 0.01, 1e-5);
}

TEST_F(TrainerTest, CudaGraphStepMatchesTheEagerStep) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  settings_.train.amp = Amp::kOff;
  settings_.train.epochs = 3;  // 9 steps: 3 eager warm-up steps, a capture, replays
  settings_.train.cuda_graph = Toggle::kOff;
  GenerationTrainer eager(settings_, at::kCUDA,
                          generation_data(make_run_data(prepare_data(data_), at::kCUDA),
                                          run_.labeled_positions, targets_),
                          dir_ / "eager");
  eager.run(false);
  settings_.train.cuda_graph = Toggle::kOn;
  GenerationTrainer graph(settings_, at::kCUDA,
                          generation_data(make_run_data(prepare_data(data_), at::kCUDA),
                                          run_.labeled_positions, targets_),
                          dir_ / "graph");
  EXPECT_TRUE(graph.fast_path()["cuda_graph"].get<bool>());
  graph.run(false);
  const auto a = eager.model()->parameters();
  const auto b = graph.model()->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(at::allclose(a[i], b[i], 1e-3, 1e-4))
        << "parameter " << i << " differs by " << (a[i] - b[i]).abs().max().item<double>();
  }
  // Both trained: the weights moved away from the shared start.
  GenerationTrainer fresh(settings_, at::kCUDA,
                          generation_data(make_run_data(prepare_data(data_), at::kCUDA),
                                          run_.labeled_positions, targets_),
                          dir_ / "fresh");
  EXPECT_FALSE(at::allclose(fresh.model()->parameters()[0], b[0]));
}

// Whether `groups` put `p` in a group with weight decay `decay`.
bool in_group_with_decay(const std::vector<SgdGroup>& groups, const at::Tensor& p, double decay) {
  for (const SgdGroup& g : groups) {
    for (const at::Tensor& q : g.params) {
      if (q.is_same(p)) return g.weight_decay == decay;
    }
  }
  return false;
}

TEST_F(TrainerTest, SigmoidLossesStartTheBiasAtThePriorAndLeaveItUndecayed) {
  // Cui et al. (class-balanced-loss, model_base.py and cifar_main.py): with the sigmoid losses
  // the classifier bias starts at -log(C - 1) and is not weight-decayed; the other losses keep
  // the zero bias and its decay (their runs do not change).
  settings_.train.weight_decay = 5e-4;
  const int classes = 3;
  for (LabeledLoss loss : {LabeledLoss::kCe, LabeledLoss::kCbSoftmax, LabeledLoss::kCbSigmoid,
                           LabeledLoss::kCbFocal, LabeledLoss::kLogitAdjusted}) {
    settings_.train.labeled_loss = loss;
    const bool sigmoid = loss == LabeledLoss::kCbSigmoid || loss == LabeledLoss::kCbFocal;
    GenerationTrainer trainer(settings_, at::kCPU,
                              generation_data(run_, run_.labeled_positions, targets_), dir_ / "x");
    const double bias = sigmoid ? -std::log(classes - 1.0) : 0.0;
    for (WideResNet* net : {&trainer.model(), &trainer.ema_model()}) {
      const at::Tensor b = (*net)->classifier()->bias;
      EXPECT_TRUE(at::allclose(b, at::full_like(b, bias), 0.0, 1e-7)) << to_string(loss) << b;
    }
    const std::vector<SgdGroup> groups = generation_sgd_groups(*trainer.model(), settings_.train);
    WideResNetImpl& model = *trainer.model();
    EXPECT_TRUE(in_group_with_decay(groups, model.classifier()->bias, sigmoid ? 0.0 : 5e-4))
        << to_string(loss);
    EXPECT_TRUE(in_group_with_decay(groups, model.classifier()->weight, 5e-4)) << to_string(loss);
    if (!sigmoid) {
      // Exactly the groups (and momentum-buffer order) of every run before this change.
      const std::vector<SgdGroup> before = sgd_groups_without_bn_decay(model, 5e-4);
      ASSERT_EQ(groups.size(), before.size());
      for (std::size_t g = 0; g < groups.size(); ++g) {
        ASSERT_EQ(groups[g].params.size(), before[g].params.size());
        for (std::size_t k = 0; k < groups[g].params.size(); ++k) {
          EXPECT_TRUE(groups[g].params[k].is_same(before[g].params[k]));
        }
      }
    }
  }
}

TEST_F(TrainerTest, FirstSigmoidLossOfAFreshModelIsCuiEtAlsPerImageValue) {
  // C = 10 classes; with the head's weights at zero (near-zero logits from the features) the
  // logits are the bias: each sigmoid at 1 / C gives log C + (C - 1) log(C / (C - 1)) = 3.2508
  // per image (class weights 1 with beta 0), where the zero bias gave C log 2 = 6.9315.
  data_.synthetic.classes = 10;
  data_.synthetic.train_per_class = 12;
  data_.synthetic.test_per_class = 2;
  data_.imbalance_ratio = 2;
  run_ = make_run_data(prepare_data(data_), at::kCPU);
  targets_.clear();
  for (std::int64_t p : run_.labeled_positions) {
    targets_.push_back(run_.lt_labels[static_cast<std::size_t>(p)]);
  }
  settings_.train.cb_beta = 0.0;
  const double c = 10.0;
  for (LabeledLoss loss : {LabeledLoss::kCbSigmoid, LabeledLoss::kCbFocal}) {
    settings_.train.labeled_loss = loss;
    GenerationTrainer trainer(settings_, at::kCPU,
                              generation_data(run_, run_.labeled_positions, targets_), dir_ / "x");
    {
      at::NoGradGuard no_grad;
      trainer.model()->classifier()->weight.zero_();
    }
    const StepBatch batch = trainer.draw_batch();
    const at::Tensor logits = trainer.model()->forward(batch.inputs).narrow(0, 0, 4);
    LabeledLossFn fn =
        make_labeled_loss(settings_.train, std::vector<std::int64_t>(10, 5), at::kCPU);
    const double first = fn(logits, batch.labels).item<double>();
    // cb_focal (gamma 1) weighs the target's term by 1 - 1/C and the others' by 1/C.
    const double expected =
        loss == LabeledLoss::kCbSigmoid
            ? std::log(c) + (c - 1.0) * std::log(c / (c - 1.0))
            : (1.0 - 1.0 / c) * std::log(c) + (c - 1.0) / c * std::log(c / (c - 1.0));
    EXPECT_NEAR(first, expected, 1e-5) << to_string(loss);
    if (loss == LabeledLoss::kCbSigmoid) {
      EXPECT_NEAR(first, 3.2508, 1e-4);
      EXPECT_GT(c * std::log(2.0) - first, 3.6);  // the zero bias's 6.9315
    }
  }
}

TEST_F(TrainerTest, InitFromKeepsTheSigmoidPriorOnTheFreshHead) {
  // model.init_from: the backbone from the file, the head fresh, so its bias at the prior too.
  WideResNetOptions options;
  options.depth = 10;
  options.width = 1;
  options.num_classes = 3;
  WideResNet source(options);
  const NamedTensors backbone = wrn_state_dict(*source, /*backbone_only=*/true);
  settings_.init_weights = &backbone;
  settings_.init_source = "backbone.pt";
  settings_.train.labeled_loss = LabeledLoss::kCbFocal;
  GenerationTrainer trainer(settings_, at::kCPU,
                            generation_data(run_, run_.labeled_positions, targets_), dir_ / "x");
  EXPECT_EQ(backbone_fingerprint(*trainer.model()), backbone_fingerprint(*source));
  const at::Tensor b = trainer.ema_model()->classifier()->bias;
  EXPECT_TRUE(at::allclose(b, at::full_like(b, -std::log(2.0)), 0.0, 1e-7)) << b;
}

TEST_F(TrainerTest, LogitAdjustedFiguresAreUndefinedWhereTrainingAdjustedTheLogits) {
  // A logit_adjusted run's logits already carry tau log(prior): its acc_*_la are null in
  // metrics.jsonl, never adjusted twice; the other losses keep both figures.
  settings_.train.epochs = 1;
  struct Case {
    LabeledLoss loss;
    double tau;
    bool adjusted;
  };
  for (const Case& c :
       {Case{LabeledLoss::kCe, 1.0, false}, Case{LabeledLoss::kCbSigmoid, 1.0, false},
        Case{LabeledLoss::kCbSoftmax, 1.0, false}, Case{LabeledLoss::kLogitAdjusted, 1.0, true},
        Case{LabeledLoss::kLogitAdjusted, 2.0, true},
        Case{LabeledLoss::kLogitAdjusted, 0.0, false}}) {
    settings_.train.labeled_loss = c.loss;
    settings_.train.la_tau = c.tau;
    const std::string name = to_string(c.loss) + std::to_string(c.tau);
    train(name);
    const auto line = nlohmann::json::parse(read_file(dir_ / name / "metrics.jsonl"));
    for (const char* key : {"acc_raw_la", "acc_ema_la"}) {
      EXPECT_EQ(line[key].is_null(), c.adjusted) << name << " " << key << ": " << line[key];
      if (!c.adjusted) {
        EXPECT_TRUE(line[key].is_number()) << name << " " << key;
      }
    }
    EXPECT_TRUE(line["acc_ema"].is_number()) << name;
  }
}

}  // namespace
}  // namespace crest
