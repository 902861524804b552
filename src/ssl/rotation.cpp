#include "crest/ssl/rotation.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "crest/augment/augment.h"
#include "crest/dist/world.h"
#include "crest/io/sink.h"
#include "crest/models/wrn_weights.h"
#include "crest/ssl/engine.h"
#include "crest/ssl/learner.h"
#include "crest/ssl/predict.h"
#include "crest/ssl/sampler.h"
#include "crest/ssl/sgd.h"
#include "crest/ssl/train_state.h"
#include "crest/ssl/training_loop.h"
#include "crest/util/device.h"
#include "crest/util/error.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

// Seed purposes of the pre-training (generation slot 0 of derive_seed; purposes apart from the
// trainer's).
constexpr std::uint64_t kSeedPretrainInit = 101;
constexpr std::uint64_t kSeedPretrainData = 102;

enum PretrainStat : int64_t { kLossSum, kCorrect, kSeen, kStepsDone, kPretrainStatCount };

}  // namespace

at::Tensor rotate_images(const at::Tensor& images, const at::Tensor& rotations) {
  if (images.dim() != 4 || images.size(2) != images.size(3)) {
    throw InputError("rotation pre-training needs square images [N, C, S, S], got " +
                     std::to_string(images.size(2)) + "x" + std::to_string(images.size(3)) +
                     " (set data.image_size)");
  }
  // The four turns of the batch, then each image's own: gathered on the device without a
  // host round trip.
  const at::Tensor turns = at::stack({images, at::rot90(images, 1, {2, 3}),
                                      at::rot90(images, 2, {2, 3}), at::rot90(images, 3, {2, 3})});
  const at::Tensor rows = at::arange(images.size(0), rotations.options());
  return turns.index({rotations, rows});
}

at::Tensor balanced_rotations(std::int64_t n, at::Generator& generator, at::Device device) {
  const std::int64_t repeats = (n + kRotations - 1) / kRotations;
  const at::Tensor pool =
      at::arange(kRotations, at::TensorOptions().dtype(at::kLong).device(device)).repeat(repeats);
  const at::Tensor order =
      at::randperm(pool.size(0), generator, at::TensorOptions().dtype(at::kLong).device(device));
  return pool.index_select(0, order).narrow(0, 0, n);
}

double pretrain_lr(const PretrainConfig& p, std::int64_t step, std::int64_t total_steps) {
  const double total = static_cast<double>(std::max<std::int64_t>(1, total_steps));
  const auto warmup_steps =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::llround(p.warmup * total)));
  if (p.warmup > 0.0 && step < warmup_steps) {
    return p.lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  }
  if (static_cast<double>(step) >= p.decay_at * total) return p.lr * p.decay_factor;
  return p.lr;
}

// Rotation prediction as a learner: every image of the batch turned by a balanced random
// multiple of 90 degrees (or by all four, pretrain.all_rotations), a 4-way cross-entropy.
class RotationLearner final : public Learner {
 public:
  RotationLearner(const PretrainSettings& settings, at::Device device, at::Tensor images,
                  at::Tensor test_images, WideResNet model, std::int64_t batch)
      : settings_(settings),
        device_(device),
        images_(std::move(images)),
        test_images_(std::move(test_images)),
        model_(std::move(model)),
        batch_(batch),
        sampler_(images_.size(0), device) {
    augment_.pad = std::max(1, static_cast<int>(images_.size(-1)) / 8);
  }

  int stat_count() const override { return kPretrainStatCount; }
  void register_state(StateTree& tree) override {
    tree.add_module("sampler", sampler_.ptr(), /*per_rank=*/true);
  }

  StepBatch draw_batch(at::Generator& generator) override {
    const at::Tensor positions = sampler_->next(batch_, generator);
    const at::Tensor x =
        normalize_images(weak_augment(images_.index_select(0, positions), generator, augment_));
    StepBatch out;
    if (settings_.pretrain.all_rotations) {
      out.inputs =
          at::cat({x, at::rot90(x, 1, {2, 3}), at::rot90(x, 2, {2, 3}), at::rot90(x, 3, {2, 3})});
      out.labels = at::arange(kRotations, at::TensorOptions().dtype(at::kLong).device(device_))
                       .repeat_interleave(x.size(0));
    } else {
      out.labels = balanced_rotations(x.size(0), generator, device_);
      out.inputs = rotate_images(x, out.labels);
    }
    return out;
  }

  StepLoss loss(const StepBatch& batch, std::int64_t) override {
    const at::Tensor& targets = batch.labels;
    const at::Tensor logits = model_->forward(batch.inputs.contiguous());
    const at::Tensor loss = at::cross_entropy_loss(logits, targets);
    const auto options = at::TensorOptions().dtype(at::kDouble).device(device_);
    const at::Tensor correct = logits.detach().argmax(1).eq(targets).sum();
    return {loss, at::stack({loss.detach().to(at::kDouble) * static_cast<double>(targets.size(0)),
                             correct.to(at::kDouble),
                             at::full({}, static_cast<double>(targets.size(0)), options),
                             at::ones({}, options)})};
  }

  // The step reads its batch alone (the turns are drawn with the batch).
  bool graph_capturable() const override { return true; }

  EpochLine evaluate(const EvaluationInput& input) override {
    const auto* v = input.stats.data_ptr<double>();
    PretrainLine line;
    line.step = input.step;
    line.epoch = input.epoch;
    line.lr = input.lr;
    line.loss = v[kSeen] > 0 ? v[kLossSum] / v[kSeen] : std::nan("");
    line.train_rotation_accuracy = v[kSeen] > 0 ? v[kCorrect] / v[kSeen] : 0.0;
    line.test_rotation_accuracy = test_accuracy();
    line.steps_per_sec = input.steps_per_sec;
    return line;
  }

  ProgressFields progress_fields(double lr, const at::Tensor& stats,
                                 const EpochLine* epoch_line) const override {
    double loss = 0.0;
    double accuracy = 0.0;
    const PretrainLine* line =
        epoch_line != nullptr ? std::get_if<PretrainLine>(epoch_line) : nullptr;
    if (line != nullptr) {
      loss = line->loss;
      accuracy = line->train_rotation_accuracy;
    } else {
      const auto* v = stats.data_ptr<double>();
      loss = v[kSeen] > 0 ? v[kLossSum] / v[kSeen] : 0.0;
      accuracy = v[kSeen] > 0 ? v[kCorrect] / v[kSeen] : 0.0;
    }
    char text[64];
    ProgressFields out;
    std::snprintf(text, sizeof(text), "loss %.4f", loss);
    out.push_back({text, "", 4});
    std::snprintf(text, sizeof(text), "rot acc %.3f", accuracy);
    out.push_back({text, "", 3});
    std::snprintf(text, sizeof(text), "lr %.4f", lr);
    out.push_back({text, "", 0});
    if (line != nullptr) {
      std::snprintf(text, sizeof(text), "test rot acc %.4f", line->test_rotation_accuracy);
      out.push_back({text, "", 5});
    }
    return out;
  }

  // Every test image in all four rotations (NaN without test images).
  double test_accuracy() {
    if (test_images_.size(0) == 0) return std::nan("");
    std::int64_t correct = 0;
    for (int k = 0; k < kRotations; ++k) {
      const at::Tensor turned = at::rot90(test_images_, k, {2, 3}).contiguous();
      const at::Tensor logits = predict_logits(model_, turned, settings_.eval_batch_size);
      correct += logits.argmax(1).eq(k).sum().item<std::int64_t>();
    }
    model_->train();
    return static_cast<double>(correct) / static_cast<double>(kRotations * test_images_.size(0));
  }

 private:
  const PretrainSettings& settings_;
  at::Device device_;
  at::Tensor images_;
  at::Tensor test_images_;
  WideResNet model_;
  std::int64_t batch_;  // this rank's share of pretrain.batch_size
  IndexSampler sampler_;
  AugmentOptions augment_;
};

struct RotationPretrainer::Impl {
  PretrainSettings settings;
  at::Device device = at::kCPU;
  fs::path out_dir;
  std::int64_t steps_per_epoch = 1;
  WideResNet model{nullptr};
  std::unique_ptr<RotationLearner> learner;
  std::unique_ptr<StepEngine> engine;

  std::int64_t total_steps() const {
    return steps_per_epoch * static_cast<std::int64_t>(settings.pretrain.epochs);
  }
};

RotationPretrainer::RotationPretrainer(PretrainSettings settings, at::Device device,
                                       at::Tensor images, at::Tensor test_images, fs::path out_dir)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.settings = std::move(settings);
  s.device = device;
  s.out_dir = std::move(out_dir);
  const PretrainConfig& p = s.settings.pretrain;
  if (images.size(0) == 0) throw InputError("rotation pre-training: no training images");
  const dist::World& world = dist::world();
  if (p.batch_size % world.size() != 0) {
    throw InputError("pretrain.batch_size " + std::to_string(p.batch_size) +
                     " cannot be split evenly over " + std::to_string(world.size()) +
                     " ranks; choose a multiple of --nproc");
  }
  s.steps_per_epoch = p.steps_per_epoch > 0 ? p.steps_per_epoch
                                            : (images.size(0) + p.batch_size - 1) / p.batch_size;
  WideResNetOptions options;
  options.depth = s.settings.model.depth;
  options.width = s.settings.model.width;
  options.bn_momentum = s.settings.model.bn_momentum;
  options.num_classes = kRotations;
  s.model = WideResNet(options);
  at::Generator init = make_generator(
      at::kCPU, derive_seed(static_cast<std::uint64_t>(s.settings.seed), 0, kSeedPretrainInit));
  initialize_wide_resnet(*s.model, init);
  s.model->to(s.device);
  s.model->train();
  auto optimizer =
      std::make_unique<Sgd>(sgd_groups_without_bn_decay(*s.model, p.weight_decay), p.momentum,
                            p.nesterov, resolve_sgd_kernels(SgdChoice::kAuto, s.device));
  s.learner = std::make_unique<RotationLearner>(s.settings, device, std::move(images),
                                                std::move(test_images), s.model,
                                                p.batch_size / world.size());
  EngineSettings engine;
  engine.state_name = "RotationPretrainerState";
  engine.label = "pretrain";
  engine.data_seed = derive_seed(static_cast<std::uint64_t>(s.settings.seed), 0, kSeedPretrainData);
  s.engine = std::make_unique<StepEngine>(engine, device, s.model, WideResNet(nullptr),
                                          std::move(optimizer), *s.learner);
}

RotationPretrainer::~RotationPretrainer() = default;

std::int64_t RotationPretrainer::total_steps() const { return impl_->total_steps(); }

WideResNet& RotationPretrainer::model() { return impl_->model; }

PretrainOutcome RotationPretrainer::run(bool resume) {
  Impl& s = *impl_;
  const std::unique_ptr<RunSink> own_sink =
      s.settings.sink == nullptr ? make_folder_sink(s.out_dir) : nullptr;
  RunSink& sink = s.settings.sink != nullptr ? *s.settings.sink : *own_sink;
  LoopSettings loop;
  loop.dir = s.out_dir;
  loop.kind = EpochKind::kPretrain;
  loop.label = "pretrain";
  loop.total_steps = s.total_steps();
  loop.steps_per_epoch = s.steps_per_epoch;
  loop.checkpoint_every = s.settings.checkpoint_every;
  const std::int64_t total = s.total_steps();
  const PretrainConfig& p = s.settings.pretrain;
  loop.lr = [&p, total](std::int64_t k) { return pretrain_lr(p, k, total); };
  loop.lr_key = "pretrain.lr";
  loop.restart = "--resume starts over";
  loop.execution = s.engine->execution();
  loop.execution.precision = "fp32";
  loop.execution.memory_format = "contiguous";
  const LoopResult result = run_training_loop(*s.engine, *s.learner, sink, loop, resume);
  s.engine->check_ranks_agree();
  PretrainOutcome outcome;
  outcome.steps = s.engine->steps_done();
  // The last evaluation's (every training ends with one), else measured now.
  outcome.test_rotation_accuracy = std::nan("");
  if (!result.lines.empty()) {
    outcome.test_rotation_accuracy =
        std::get<PretrainLine>(result.lines.back()).test_rotation_accuracy;
  }
  if (std::isnan(outcome.test_rotation_accuracy))
    outcome.test_rotation_accuracy = s.learner->test_accuracy();
  outcome.seconds = result.seconds;
  outcome.backbone_fingerprint = backbone_fingerprint(*s.model);
  return outcome;
}

}  // namespace crest
