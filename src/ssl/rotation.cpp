#include "crest/ssl/rotation.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "crest/augment/augment.h"
#include "crest/io/checkpoint.h"
#include "crest/io/file.h"
#include "crest/io/pretrain_files.h"
#include "crest/io/run_files.h"
#include "crest/models/wrn_weights.h"
#include "crest/ssl/predict.h"
#include "crest/ssl/sampler.h"
#include "crest/ssl/sgd.h"
#include "crest/ssl/train_state.h"
#include "crest/ssl/trainer.h"
#include "crest/util/error.h"
#include "crest/util/progress.h"
#include "crest/util/signals.h"

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

struct RotationPretrainer::Impl {
  PretrainSettings settings;
  at::Device device;
  at::Tensor images;
  at::Tensor test_images;
  fs::path out_dir;
  WideResNet model{nullptr};
  std::unique_ptr<Sgd> optimizer;
  at::Generator generator;
  IndexSampler sampler{nullptr};
  AugmentOptions augment;
  std::shared_ptr<torch::nn::Module> state;
  at::Tensor generator_state;
  at::Tensor stats;      // float64 [kPretrainStatCount] on the device, since the last line
  at::Tensor nonfinite;  // bool scalar: a non-finite loss has been seen
  std::int64_t step = 0;
  std::int64_t checkpoint_step = -1;
  std::int64_t steps_per_epoch = 1;

  Impl(PretrainSettings s, at::Device d, at::Tensor x, at::Tensor test, fs::path out)
      : settings(std::move(s)),
        device(d),
        images(std::move(x)),
        test_images(std::move(test)),
        out_dir(std::move(out)) {}

  std::int64_t total_steps() const {
    return steps_per_epoch * static_cast<std::int64_t>(settings.pretrain.epochs);
  }
  fs::path file(const char* name) const { return out_dir / name; }

  void train_step(double lr);
  double test_accuracy();
  void save_checkpoint();
  void check_finite();
  PretrainLine evaluate(double lr, double steps_per_sec);
};

RotationPretrainer::RotationPretrainer(PretrainSettings settings, at::Device device,
                                       at::Tensor images, at::Tensor test_images, fs::path out_dir)
    : impl_(std::make_shared<Impl>(std::move(settings), device, std::move(images),
                                   std::move(test_images), std::move(out_dir))) {
  Impl& s = *impl_;
  const PretrainConfig& p = s.settings.pretrain;
  if (s.images.size(0) == 0) throw InputError("rotation pre-training: no training images");
  s.steps_per_epoch = p.steps_per_epoch > 0 ? p.steps_per_epoch
                                            : (s.images.size(0) + p.batch_size - 1) / p.batch_size;
  const auto side = static_cast<int>(s.images.size(-1));
  s.augment.pad = std::max(1, side / 8);
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
  s.optimizer =
      std::make_unique<Sgd>(sgd_groups_without_bn_decay(*s.model, p.weight_decay), p.momentum,
                            p.nesterov, resolve_sgd_kernels(SgdChoice::kAuto, s.device));
  s.generator = make_generator(
      s.device, derive_seed(static_cast<std::uint64_t>(s.settings.seed), 0, kSeedPretrainData));
  s.sampler = IndexSampler(s.images.size(0), s.device);
  s.stats = at::zeros({kPretrainStatCount}, at::TensorOptions().dtype(at::kDouble).device(device));
  s.nonfinite = at::zeros({}, at::TensorOptions().dtype(at::kBool).device(device));
  s.state = std::make_shared<torch::nn::Module>("RotationPretrainerState");
  s.state->register_module("model", s.model);
  s.state->register_module("optimizer", momentum_module(s.optimizer->buffers()));
  s.state->register_module("sampler", s.sampler);
  s.generator_state =
      s.state->register_buffer("generator", read_generator_state(s.generator).clone());
  s.state->register_buffer("stats", s.stats);
}

std::int64_t RotationPretrainer::total_steps() const { return impl_->total_steps(); }

WideResNet& RotationPretrainer::model() { return impl_->model; }

void RotationPretrainer::Impl::train_step(double lr) {
  const PretrainConfig& p = settings.pretrain;
  const at::Tensor positions = sampler->next(p.batch_size, generator);
  const at::Tensor x =
      normalize_images(weak_augment(images.index_select(0, positions), generator, augment));
  at::Tensor inputs;
  at::Tensor targets;
  if (p.all_rotations) {
    const std::int64_t b = x.size(0);
    inputs =
        at::cat({x, at::rot90(x, 1, {2, 3}), at::rot90(x, 2, {2, 3}), at::rot90(x, 3, {2, 3})});
    targets = at::arange(kRotations, at::TensorOptions().dtype(at::kLong).device(device))
                  .repeat_interleave(b);
  } else {
    targets = balanced_rotations(x.size(0), generator, device);
    inputs = rotate_images(x, targets);
  }
  optimizer->set_lr(lr);
  optimizer->zero_grad();
  const at::Tensor logits = model->forward(inputs.contiguous());
  const at::Tensor loss = at::cross_entropy_loss(logits, targets);
  loss.backward();
  optimizer->step();
  const at::Tensor correct = logits.detach().argmax(1).eq(targets).sum();
  stats.add_(at::stack({loss.detach().to(at::kDouble) * static_cast<double>(targets.size(0)),
                        correct.to(at::kDouble),
                        at::full({}, static_cast<double>(targets.size(0)), stats.options()),
                        at::ones({}, stats.options())}));
  nonfinite.logical_or_(loss.detach().isfinite().logical_not());
  ++step;
}

double RotationPretrainer::Impl::test_accuracy() {
  if (test_images.size(0) == 0) return std::nan("");
  std::int64_t correct = 0;
  for (int k = 0; k < kRotations; ++k) {
    const at::Tensor turned = at::rot90(test_images, k, {2, 3}).contiguous();
    const at::Tensor logits = predict_logits(model, turned, settings.eval_batch_size);
    correct += logits.argmax(1).eq(k).sum().item<std::int64_t>();
  }
  model->train();
  return static_cast<double>(correct) / static_cast<double>(kRotations * test_images.size(0));
}

void RotationPretrainer::Impl::check_finite() {
  bool finite = !nonfinite.item<bool>();
  if (finite) {
    for (const at::Tensor& p : model->parameters())
      finite = finite && at::isfinite(p).all().item<bool>();
    for (const at::Tensor& b : model->buffers()) {
      if (b.is_floating_point()) finite = finite && at::isfinite(b).all().item<bool>();
    }
  }
  if (finite) return;
  const std::string kept = checkpoint_step >= 0
                               ? "the last good checkpoint (" + file(kCheckpointFile).string() +
                                     ", step " + std::to_string(checkpoint_step) + ") was kept"
                               : "no checkpoint had been written yet, so --resume starts over";
  throw TrainingDiverged(
      "rotation pre-training: the loss or the weights became non-finite by "
      "step " +
      std::to_string(step) + "; training stopped and " + kept + ". Lower pretrain.lr");
}

void RotationPretrainer::Impl::save_checkpoint() {
  check_finite();
  generator_state.copy_(read_generator_state(generator));
  write_checkpoint(file(kCheckpointFile), *state, {step, total_steps()});
  checkpoint_step = step;
}

PretrainLine RotationPretrainer::Impl::evaluate(double lr, double steps_per_sec) {
  const at::Tensor st = stats.cpu();
  const auto* v = st.data_ptr<double>();
  PretrainLine line;
  line.step = step;
  line.epoch = step / steps_per_epoch;
  line.lr = lr;
  line.loss = v[kSeen] > 0 ? v[kLossSum] / v[kSeen] : std::nan("");
  line.train_rotation_accuracy = v[kSeen] > 0 ? v[kCorrect] / v[kSeen] : 0.0;
  line.test_rotation_accuracy = test_accuracy();
  line.steps_per_sec = steps_per_sec;
  return line;
}

PretrainOutcome RotationPretrainer::run(bool resume) {
  Impl& s = *impl_;
  fs::create_directories(s.out_dir);
  const fs::path metrics = s.file(kMetricsFile);
  if (resume && fs::exists(s.file(kCheckpointFile))) {
    const CheckpointHeader header = read_checkpoint(s.file(kCheckpointFile), *s.state);
    if (header.total_steps != s.total_steps()) {
      throw InputError(s.file(kCheckpointFile).string() + " was written for " +
                       std::to_string(header.total_steps) + " steps, the config asks for " +
                       std::to_string(s.total_steps()) + "; resume with the folder's own config");
    }
    s.step = header.step;
    s.checkpoint_step = header.step;
    set_generator_state(s.generator, s.generator_state);
    truncate_pretrain_metrics(metrics, s.step);
    spdlog::info("pretrain: resuming at step {} of {}", s.step, s.total_steps());
  } else {
    write_file_atomic(metrics, "");
  }
  const std::int64_t total = s.total_steps();
  const std::int64_t first = s.step;
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  Progress progress("pretrain", total, s.step);
  auto fields = [](double lr, double loss, double acc, const PretrainLine* line) {
    char text[64];
    ProgressFields out;
    std::snprintf(text, sizeof(text), "loss %.4f", loss);
    out.push_back({text, "", 4});
    std::snprintf(text, sizeof(text), "rot acc %.3f", acc);
    out.push_back({text, "", 3});
    std::snprintf(text, sizeof(text), "lr %.4f", lr);
    out.push_back({text, "", 0});
    if (line != nullptr) {
      std::snprintf(text, sizeof(text), "test rot acc %.4f", line->test_rotation_accuracy);
      out.push_back({text, "", 5});
    }
    return out;
  };
  double last_test = std::nan("");
  while (s.step < total) {
    const double lr = pretrain_lr(s.settings.pretrain, s.step, total);
    s.train_step(lr);
    if (s.step % s.steps_per_epoch == 0 || s.step == total) {
      s.check_finite();
      const double elapsed = seconds();
      const PretrainLine line =
          s.evaluate(lr, elapsed > 0 ? static_cast<double>(s.step - first) / elapsed : 0.0);
      append_pretrain_line(metrics, line);
      last_test = line.test_rotation_accuracy;
      s.stats.zero_();
      progress.record(s.step, fields(lr, line.loss, line.train_rotation_accuracy, &line));
    } else if (progress.due()) {
      const at::Tensor st = s.stats.cpu();
      const auto* v = st.data_ptr<double>();
      progress.update(s.step, fields(lr, v[kSeen] > 0 ? v[kLossSum] / v[kSeen] : 0.0,
                                     v[kSeen] > 0 ? v[kCorrect] / v[kSeen] : 0.0, nullptr));
    }
    const bool due = s.settings.checkpoint_every > 0 && s.step % s.settings.checkpoint_every == 0;
    if (due || s.step == total) s.save_checkpoint();
    if (stop_requested()) {
      progress.finish();
      s.save_checkpoint();
      throw Interrupted("pretrain: stopped at step " + std::to_string(s.step) +
                        "; checkpoint written to " + s.file(kCheckpointFile).string() +
                        ". Continue with --resume");
    }
  }
  progress.finish();
  s.check_finite();
  PretrainOutcome outcome;
  outcome.steps = s.step;
  outcome.test_rotation_accuracy = std::isnan(last_test) ? s.test_accuracy() : last_test;
  outcome.seconds = seconds();
  outcome.backbone_fingerprint = backbone_fingerprint(*s.model);
  return outcome;
}

}  // namespace crest
