#include "crest/ssl/trainer.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>

#include "crest/augment/augment.h"
#include "crest/dist/gradient_reducer.h"
#include "crest/dist/rank_state.h"
#include "crest/dist/world.h"
#include "crest/io/checkpoint.h"
#include "crest/io/class_tables.h"
#include "crest/io/run_files.h"
#include "crest/io/tensorboard.h"
#include "crest/io/training_files.h"
#include "crest/models/wrn_weights.h"
#include "crest/ssl/ema.h"
#include "crest/ssl/fixmatch.h"
#include "crest/ssl/mixmatch.h"
#include "crest/ssl/sampler.h"
#include "crest/ssl/sgd.h"
#include "crest/ssl/train_state.h"
#include "crest/util/device.h"
#include "crest/util/error.h"
#include "crest/util/progress.h"
#include "crest/util/signals.h"
#include "crest/util/torch_version.h"

#if CREST_HAS_CUDA_GRAPHS
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace crest {

namespace fs = std::filesystem;

namespace {

// Eager steps before a CUDA graph is captured (lazy initialisations, cuDNN autotuning).
constexpr int kGraphWarmupSteps = 3;

// Seed purposes.
constexpr std::uint64_t kSeedInit = 1;
constexpr std::uint64_t kSeedData = 2;

// Per-step statistics summed on the device and read only when shown or logged.
enum Stat : int64_t {
  kLoss,
  kLossX,
  kLossU,
  kMask,
  kPseudoCorrect,  // kept pseudo-labels that match the hidden true label
  kPseudoKept,
  kSteps,
  kStatCount
};

// train.cuda_graph for `device`; InputError naming the key when `on` cannot work here.
bool resolve_cuda_graph(Toggle choice, const at::Device& device) {
  if (choice == Toggle::kOn) {
    if (!device.is_cuda()) {
      throw InputError("train.cuda_graph=on needs a CUDA device (run.device is " + device.str() +
                       "); use auto or off");
    }
    if (!CREST_HAS_CUDA_GRAPHS) {
      throw InputError(
          "train.cuda_graph=on needs a CUDA build of crest against LibTorch >= 2.3 "
          "(this one: LibTorch " +
          std::string(TORCH_VERSION) + "); use auto or off");
    }
  }
  return resolve_toggle(choice, device.is_cuda() && CREST_HAS_CUDA_GRAPHS);
}

#if CREST_HAS_CUDA_GRAPHS
// An exception's message; LibTorch's without its C++ stack trace.
std::string c10_message(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

// Records `step` as a CUDA graph on the current (side) stream; the step is recorded, not run.
// When the capture fails: under train.cuda_graph=on a runtime_error naming the key; under auto a
// warning and nullptr (the caller continues with the eager step, the same computation).
std::unique_ptr<at::cuda::CUDAGraph> capture_graph(const std::function<void()>& step, Toggle choice,
                                                   const std::string& label) {
  // Autocast's cast cache would hold tensors made during capture; PyTorch disables it for
  // graphs too.
  const bool cache = at::autocast::is_autocast_cache_enabled();
  at::autocast::set_autocast_cache_enabled(false);
  auto graph = std::make_unique<at::cuda::CUDAGraph>();
  bool capturing = false;
  try {
    graph->capture_begin();
    capturing = true;
    step();
    capturing = false;
    graph->capture_end();
  } catch (const std::exception& e) {
    at::autocast::set_autocast_cache_enabled(cache);
    if (capturing) {
      try {
        graph->capture_end();  // leaves capture mode; the half-recorded graph is dropped
      } catch (const std::exception&) {
      }
    }
    const std::string reason = c10_message(e);
    if (choice == Toggle::kOn) {
      throw std::runtime_error(
          "capturing the training step as a CUDA graph failed (train.cuda_graph=on); rerun "
          "with --set train.cuda_graph=auto or off: " +
          reason);
    }
    spdlog::warn(
        "{}: capturing the training step as a CUDA graph failed ({}); continuing with the "
        "eager step (train.cuda_graph=auto)",
        label, reason);
    return nullptr;
  }
  at::autocast::set_autocast_cache_enabled(cache);
  return graph;
}
#endif

}  // namespace

std::uint64_t derive_seed(std::uint64_t run_seed, std::uint64_t generation, std::uint64_t purpose) {
  // splitmix64 over a mix of the three, so nearby inputs give unrelated streams.
  std::uint64_t z = run_seed * 0x9E3779B97F4A7C15ULL + generation * 0xBF58476D1CE4E5B9ULL +
                    purpose * 0x94D049BB133111EBULL + 0x2545F4914F6CDD1DULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFFULL;
}

struct FixMatchTrainer::Impl {
  TrainerSettings settings;
  at::Device device;
  TrainingData data;
  fs::path out_dir;
  DistributionAligner alignment{nullptr};
  bool bf16 = false;
  bool channels_last = false;
  bool cuda_graph = false;

  std::unique_ptr<Sgd> optimizer;
  std::unique_ptr<WeightEma> ema;
  at::Generator generator;  // sampling and augmentation, on the training device
  IndexSampler labeled_stream{nullptr};
  IndexSampler unlabeled_stream{nullptr};  // null without unlabeled data
  std::int64_t step = 0;
  std::int64_t checkpoint_step = -1;  // the step of the checkpoint on disk (-1: none yet)
  at::Tensor stats;            // float64 [kStatCount] on the device, since the last evaluation
  at::Tensor generator_state;  // uint8: the generator's state, refreshed before each save
  // Everything a resume restores, as one module tree (the checkpoint): model, ema, optimizer,
  // labeled_sampler, unlabeled_sampler, alignment, and the buffers generator and stats.
  std::shared_ptr<torch::nn::Module> state;
  at::Tensor nonfinite;  // bool scalar on the device: a non-finite loss has been seen
  // Data-parallel training (docs/distributed.md): the ranks, and in a world of more than one
  // the gradient all-reduce and the other ranks' state in rank 0's checkpoint.
  dist::World& world = dist::world();
  std::unique_ptr<dist::GradientReducer> reducer;
  std::unique_ptr<dist::RankStateMirror> rank_state;
  std::vector<double> ema_accuracies;  // one per evaluation, for summary.json
  AugmentOptions augment;
  LabeledLossFn labeled_loss;    // train.labeled_loss with this generation's class counts
  std::string init_fingerprint;  // backbone_fingerprint after model.init_from; "" = random

  // CUDA graph of optimize(): the inputs are copied into `graph_batch`, whose memory the graph
  // reads on every replay.
  int eager_steps = 0;
  StepBatch graph_batch;
#if CREST_HAS_CUDA_GRAPHS
  std::unique_ptr<at::cuda::CUDAGraph> graph;
#endif

  Impl(TrainerSettings s, at::Device d, TrainingData td, fs::path out, DistributionAligner align)
      : settings(std::move(s)),
        device(d),
        data(std::move(td)),
        out_dir(std::move(out)),
        alignment(std::move(align)) {}

  std::int64_t total_steps() const {
    return static_cast<std::int64_t>(settings.train.steps_per_epoch) * settings.train.epochs;
  }
  // This rank's share of the global batch (the whole batch in a world of one rank; the loop
  // checks that the world size divides it).
  std::int64_t labeled_batch() const { return settings.train.batch_size / world.size(); }
  std::int64_t unlabeled_batch() const {
    return static_cast<std::int64_t>(settings.train.batch_size) * settings.train.unlabeled_ratio /
           world.size();
  }
};

FixMatchTrainer::FixMatchTrainer(TrainerSettings settings, at::Device device, TrainingData data,
                                 fs::path out_dir, DistributionAligner alignment)
    : impl_(std::make_shared<Impl>(std::move(settings), device, std::move(data), std::move(out_dir),
                                   std::move(alignment))) {
  Impl& s = *impl_;
  if (s.data.labeled_index.numel() > 0) {
    const at::Tensor bins = at::bincount(s.data.labeled_targets.cpu(), {},
                                         static_cast<std::int64_t>(s.data.class_names.size()));
    const std::vector<std::int64_t> counts(bins.data_ptr<std::int64_t>(),
                                           bins.data_ptr<std::int64_t>() + bins.numel());
    s.labeled_loss = make_labeled_loss(s.settings.train, counts, device);
  }
  // The reference's pad 4 and Cutout 16 are for 32 pixels: other sizes scale them (1/8, 1/2).
  const auto side = static_cast<int>(s.data.images.size(-1));
  s.augment.pad = std::max(1, side / 8);
  s.augment.cutout_size = std::max(1, side / 2);
  if (s.data.labeled_index.numel() == 0) {
    throw InputError("the labeled set is empty: raise data.label_fraction or check the data");
  }
  if (s.unlabeled_batch() > 0 && s.data.unlabeled_index.numel() == 0) {
    throw InputError("train.unlabeled_ratio is " +
                     std::to_string(s.settings.train.unlabeled_ratio) +
                     " but the unlabeled stream is empty; set train.unlabeled_ratio=0 for "
                     "supervised training");
  }
  build_models();
  build_optimizer();
  s.cuda_graph = resolve_cuda_graph(s.settings.train.cuda_graph, device);
  std::uint64_t data_seed =
      derive_seed(static_cast<std::uint64_t>(s.settings.seed),
                  static_cast<std::uint64_t>(s.settings.generation), kSeedData);
  if (s.world.distributed()) {
    // Collectives cannot be replayed inside a captured graph here; each rank samples its own
    // stream from the run seed and its rank.
    if (s.settings.train.cuda_graph == Toggle::kOn) {
      throw InputError("train.cuda_graph=on is not supported with more than one rank (world size " +
                       std::to_string(s.world.size()) + "); use auto or off");
    }
    s.cuda_graph = false;
    data_seed = dist::rank_seed(data_seed, s.world.rank());
  }
  s.generator = make_generator(device, data_seed);
  s.labeled_stream = IndexSampler(s.data.labeled_index.numel(), device);
  if (s.data.unlabeled_index.numel() > 0) {
    s.unlabeled_stream = IndexSampler(s.data.unlabeled_index.numel(), device);
  }
  // MixMatch draws a fresh MixUp per step outside the graph's fixed buffers: always eager.
  if (s.settings.train.algorithm == TrainAlgorithm::kMixMatch) s.cuda_graph = false;
  s.bf16 = use_bf16_autocast(s.settings.train.amp, device);
  s.stats = at::zeros({kStatCount}, at::TensorOptions().dtype(at::kDouble).device(device));
  s.nonfinite = at::zeros({}, at::TensorOptions().dtype(at::kBool).device(device));
  register_state();
}

void FixMatchTrainer::build_models() {
  Impl& s = *impl_;
  WideResNetOptions options;
  options.depth = s.settings.model.depth;
  options.width = s.settings.model.width;
  options.bn_momentum = s.settings.model.bn_momentum;
  options.num_classes = static_cast<int>(s.data.class_names.size());
  model_ = WideResNet(options);
  ema_model_ = WideResNet(options);
  // Initialise on the CPU from the run seed, so that a seed gives the same start on any device.
  at::Generator init = make_generator(
      at::kCPU, derive_seed(static_cast<std::uint64_t>(s.settings.seed),
                            static_cast<std::uint64_t>(s.settings.generation), kSeedInit));
  initialize_wide_resnet(*model_, init);
  if (s.settings.init_weights != nullptr) {
    // The backbone from the file; the classifier head keeps its fresh initialisation.
    load_wrn_backbone(*model_, *s.settings.init_weights, s.settings.init_source);
    s.init_fingerprint = backbone_fingerprint(*model_);
  }
  model_->to(s.device);
  ema_model_->to(s.device);
  const TrainConfig& t = s.settings.train;
  // auto: NHWC on every device. On CPU oneDNN's NHWC convolutions measured 16% faster per
  // quickstart step with tcmalloc (6% slower with glibc malloc; docs/performance.md).
  s.channels_last = resolve_toggle(t.channels_last, true);
  if (s.channels_last) {
    to_channels_last(*model_);
    to_channels_last(*ema_model_);
  }
  if (s.device.is_cuda() && t.cudnn_benchmark) at::globalContext().setBenchmarkCuDNN(true);
  model_->train();
  ema_model_->eval();
  if (s.world.distributed()) {
    // Every rank starts from rank 0's weights (the same seed gives the same ones; the broadcast
    // makes it so whatever the devices), and averages its gradients with the others.
    std::vector<at::Tensor> tensors = model_->parameters();
    for (const at::Tensor& b : model_->buffers()) tensors.push_back(b);
    s.world.broadcast(tensors);
    s.reducer = std::make_unique<dist::GradientReducer>(model_->parameters(), s.world);
  }
  s.ema = std::make_unique<WeightEma>(*ema_model_, *model_);
}

void FixMatchTrainer::build_optimizer() {
  Impl& s = *impl_;
  const TrainConfig& t = s.settings.train;
  // Coupled L2 weight decay on every weight but BatchNorm's. PyTorch's Nesterov SGD (the rule
  // of Sgd) keeps the learning rate outside the momentum buffer while Keras' keeps it inside;
  // with the slowly varying halfcos rate the two differ by far less than run-to-run noise.
  std::vector<SgdGroup> groups = sgd_groups_without_bn_decay(*model_, t.weight_decay);
  s.optimizer = std::make_unique<Sgd>(std::move(groups), t.momentum, t.nesterov,
                                      resolve_sgd_kernels(t.sgd, s.device));
  s.optimizer->set_lr(t.lr);
}

void FixMatchTrainer::register_state() {
  Impl& s = *impl_;
  s.state = std::make_shared<torch::nn::Module>("FixMatchTrainerState");
  s.state->register_module("model", model_);
  s.state->register_module("ema", ema_model_);
  s.state->register_module("optimizer", momentum_module(s.optimizer->buffers()));
  s.state->register_module("labeled_sampler", s.labeled_stream);
  if (s.unlabeled_stream) s.state->register_module("unlabeled_sampler", s.unlabeled_stream);
  if (s.alignment) s.state->register_module("alignment", s.alignment);
  s.generator_state =
      s.state->register_buffer("generator", read_generator_state(s.generator).clone());
  s.state->register_buffer("stats", s.stats);
  if (s.world.distributed()) {
    std::vector<std::pair<std::string, at::Tensor>> per_rank;
    for (const auto& b : s.labeled_stream->named_buffers()) {
      per_rank.emplace_back("labeled_sampler." + b.key(), b.value());
    }
    if (s.unlabeled_stream) {
      for (const auto& b : s.unlabeled_stream->named_buffers()) {
        per_rank.emplace_back("unlabeled_sampler." + b.key(), b.value());
      }
    }
    per_rank.emplace_back("generator", s.generator_state);
    per_rank.emplace_back("stats", s.stats);
    s.rank_state = std::make_unique<dist::RankStateMirror>(std::move(per_rank), *s.state, s.world);
  }
}

std::int64_t FixMatchTrainer::total_steps() const { return impl_->total_steps(); }

nlohmann::json FixMatchTrainer::fast_path() const {
  const Impl& s = *impl_;
  return {{"amp_bf16", s.bf16},
          {"channels_last", s.channels_last},
          {"cudnn_benchmark", s.device.is_cuda() && s.settings.train.cudnn_benchmark},
          {"sgd", sgd_kernels_name(s.optimizer->kernels())},
          {"cuda_graph", s.cuda_graph}};
}

StepBatch FixMatchTrainer::draw_batch() {
  Impl& s = *impl_;
  const std::int64_t batch = s.labeled_batch();
  const std::int64_t unlabeled = s.unlabeled_batch();
  StepBatch out;
  const at::Tensor pos_l = s.labeled_stream->next(batch, s.generator);
  out.labels = s.data.labeled_targets.index_select(0, pos_l);
  const at::Tensor images_l =
      s.data.images.index_select(0, s.data.labeled_index.index_select(0, pos_l));
  std::vector<at::Tensor> views = {weak_augment(images_l, s.generator, s.augment)};
  if (unlabeled > 0) {
    const at::Tensor pos_u = s.unlabeled_stream->next(unlabeled, s.generator);
    const at::Tensor images_u =
        s.data.images.index_select(0, s.data.unlabeled_index.index_select(0, pos_u));
    switch (s.settings.train.algorithm) {
      case TrainAlgorithm::kFixMatch:
        views.push_back(weak_augment(images_u, s.generator, s.augment));
        views.push_back(strong_augment(images_u, s.generator, s.augment));
        break;
      case TrainAlgorithm::kMixMatch:  // K weak views, view after view (ssl/mixmatch.h)
        for (int k = 0; k < s.settings.train.mixmatch_k; ++k) {
          views.push_back(weak_augment(images_u, s.generator, s.augment));
        }
        break;
    }
    if (s.data.unlabeled_truth.defined()) {
      out.unlabeled_truth = s.data.unlabeled_truth.index_select(0, pos_u);
    }
  }
  out.inputs = normalize_images(at::cat(views));
  if (s.channels_last) out.inputs = out.inputs.contiguous(at::MemoryFormat::ChannelsLast);
  if (s.settings.train.algorithm == TrainAlgorithm::kMixMatch) {
    out.mix = draw_mixup(out.inputs.size(0), s.settings.train.mixup_alpha, s.generator, s.device);
  }
  return out;
}

void FixMatchTrainer::optimize(const StepBatch& input, double lr) {
  Impl& s = *impl_;
  s.optimizer->set_lr(lr, /*on_device=*/s.cuda_graph);
  if (!s.cuda_graph) {
    run_step(input, /*device_lr=*/false);
    return;
  }
#if CREST_HAS_CUDA_GRAPHS
  StepBatch& fixed = s.graph_batch;
  if (!fixed.inputs.defined()) {
    fixed.inputs = at::empty_like(input.inputs);
    fixed.labels = at::empty_like(input.labels);
    if (input.unlabeled_truth.defined())
      fixed.unlabeled_truth = at::empty_like(input.unlabeled_truth);
  }
  if (!fixed.inputs.sizes().equals(input.inputs.sizes()) ||
      fixed.unlabeled_truth.defined() != input.unlabeled_truth.defined()) {
    throw std::logic_error("CUDA graph step: the batch changed shape between steps");
  }
  fixed.inputs.copy_(input.inputs);
  fixed.labels.copy_(input.labels);
  if (fixed.unlabeled_truth.defined()) fixed.unlabeled_truth.copy_(input.unlabeled_truth);
  if (s.graph) {
    s.graph->replay();
    return;
  }
  // Warm-up steps and the capture run on a side stream (capture cannot use the default one);
  // the device is synchronised around them, a handful of times per generation.
  torch::cuda::synchronize();
  {
    c10::cuda::CUDAStreamGuard side(at::cuda::getStreamFromPool());
    if (s.eager_steps < kGraphWarmupSteps) {
      run_step(fixed, /*device_lr=*/true);
      ++s.eager_steps;
    } else {
      s.graph = capture_graph([&] { run_step(fixed, /*device_lr=*/true); },
                              s.settings.train.cuda_graph, s.settings.label);
      if (!s.graph) s.cuda_graph = false;
    }
  }
  torch::cuda::synchronize();
  if (s.graph) {
    s.graph->replay();  // capturing recorded the step without running it
  } else if (!s.cuda_graph) {
    run_step(fixed, /*device_lr=*/true);  // the capture failed: this step runs eagerly
  }
#endif
}

std::pair<at::Tensor, at::Tensor> FixMatchTrainer::fixmatch_losses(const StepBatch& input) {
  Impl& s = *impl_;
  const TrainConfig& t = s.settings.train;
  const std::int64_t batch = s.labeled_batch();
  const std::int64_t unlabeled = s.unlabeled_batch();
  // One forward pass over all views: BatchNorm sees the concatenated batch, as in the
  // reference.
  at::Tensor logits;
  {
    AutocastGuard autocast(s.bf16, s.device);
    logits = model_->forward(input.inputs);
  }
  const at::Tensor logits_l = logits.narrow(0, 0, batch);
  at::Tensor total;
  at::Tensor step_stats;
  if (unlabeled > 0) {
    const at::Tensor logits_w = logits.narrow(0, batch, unlabeled);
    const at::Tensor logits_s = logits.narrow(0, batch + unlabeled, unlabeled);
    // Pseudo-labels come from the raw model's weak view, without gradient.
    const at::Tensor probs = at::softmax(logits_w.detach().to(at::kFloat), 1);
    const at::Tensor target_probs = s.alignment ? s.alignment->align(probs) : probs;
    FixMatchLoss loss = fixmatch_loss(logits_l, input.labels, target_probs, logits_s, t.threshold,
                                      t.lambda_u, &s.labeled_loss);
    total = loss.total;
    // p_model sees the raw probabilities after the loss, as the reference updates it (over the
    // global batch when there are several ranks, so that it stays the same on every rank).
    if (s.alignment) {
      s.alignment->observe(s.world.distributed() ? at::cat(s.world.all_gather(probs)) : probs);
    }
    at::Tensor correct = loss.mask;
    if (input.unlabeled_truth.defined()) {
      correct = loss.mask * loss.pseudo_labels.eq(input.unlabeled_truth).to(at::kFloat);
    }
    step_stats =
        at::stack({loss.total.detach().to(at::kDouble), loss.loss_x.detach().to(at::kDouble),
                   loss.loss_u.detach().to(at::kDouble), loss.mask.mean().to(at::kDouble),
                   correct.sum().to(at::kDouble), loss.mask.sum().to(at::kDouble),
                   at::ones({}, s.stats.options())});
  } else {
    total = s.labeled_loss(logits_l, input.labels);
    const at::Tensor zero = at::zeros({}, s.stats.options());
    step_stats = at::stack({total.detach().to(at::kDouble), total.detach().to(at::kDouble), zero,
                            zero, zero, zero, at::ones({}, s.stats.options())});
  }
  return {total, step_stats};
}

std::pair<at::Tensor, at::Tensor> FixMatchTrainer::mixmatch_losses(const StepBatch& input) {
  Impl& s = *impl_;
  const TrainConfig& t = s.settings.train;
  // Both forwards (guess and mixed batch) in training mode, under the step's autocast, in the
  // model's memory format.
  auto forward = [&](const at::Tensor& x) {
    AutocastGuard autocast(s.bf16, s.device);
    return model_->forward(s.channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x);
  };
  const double lambda_u = t.mixmatch_lambda_u * mixmatch_rampup(s.step, t.mixmatch_rampup_steps);
  const MixMatchLoss loss =
      mixmatch_loss(forward, input.inputs, input.labels, input.mix, t.mixmatch_k,
                    t.mixmatch_temperature, lambda_u, s.alignment);
  // p_model sees the raw averaged probabilities after the loss, as for FixMatch (those of every
  // rank: the same p_model everywhere). MixUp partners are drawn within a rank's share.
  if (s.alignment) {
    s.alignment->observe(s.world.distributed() ? at::cat(s.world.all_gather(loss.mean_probs))
                                               : loss.mean_probs);
  }
  const at::Tensor one = at::ones({}, s.stats.options());
  at::Tensor correct = at::zeros({}, s.stats.options());
  if (input.unlabeled_truth.defined()) {
    correct = loss.pseudo_labels.eq(input.unlabeled_truth).sum().to(at::kDouble);
  }
  // No mask: every unlabeled image counts (mask rate 1, U guesses kept).
  const at::Tensor kept =
      at::full({}, static_cast<double>(loss.pseudo_labels.size(0)), s.stats.options());
  return {loss.total,
          at::stack({loss.total.detach().to(at::kDouble), loss.loss_x.detach().to(at::kDouble),
                     loss.loss_u.detach().to(at::kDouble), one, correct, kept, one})};
}

void FixMatchTrainer::run_step(const StepBatch& input, bool device_lr) {
  Impl& s = *impl_;
  const TrainConfig& t = s.settings.train;
  s.optimizer->zero_grad();
  std::pair<at::Tensor, at::Tensor> losses;  // the loss and the step's statistics
  switch (t.algorithm) {
    case TrainAlgorithm::kFixMatch:
      losses = fixmatch_losses(input);
      break;
    case TrainAlgorithm::kMixMatch:
      losses = mixmatch_losses(input);
      break;
  }
  const at::Tensor& total = losses.first;
  const at::Tensor& step_stats = losses.second;
  if (s.reducer) s.reducer->prepare();
  total.backward();
  if (s.reducer) {
    // The mean gradient of the global batch; BatchNorm's running statistics are rank 0's on
    // every rank (torch DDP's broadcast_buffers), so the raw and EMA models stay identical.
    s.reducer->finish();
    s.world.broadcast(model_->buffers());
  }
  s.optimizer->step(device_lr);
  s.ema->update(t.ema_decay);
  // Statistics stay on the device: no host synchronisation inside the step.
  s.stats.add_(step_stats);
  s.nonfinite.logical_or_(total.detach().isfinite().logical_not());
}

void FixMatchTrainer::step(double lr) {
  optimize(draw_batch(), lr);
  ++impl_->step;
}

void FixMatchTrainer::save_checkpoint() {
  Impl& s = *impl_;
  check_finite();  // never replace a good checkpoint with a non-finite model
  s.generator_state.copy_(read_generator_state(s.generator));
  const fs::path path = s.out_dir / kCheckpointFile;
  if (s.rank_state) s.rank_state->gather();
  if (s.world.is_main()) write_checkpoint(path, *s.state, {s.step, s.total_steps()});
  s.checkpoint_step = s.step;
  spdlog::debug("checkpoint at step {} -> {}", s.step, path.string());
}

void FixMatchTrainer::load_checkpoint() {
  Impl& s = *impl_;
  const fs::path path = s.out_dir / kCheckpointFile;
  const CheckpointHeader header = read_checkpoint(path, *s.state);
  if (header.total_steps != s.total_steps()) {
    throw InputError(path.string() + " was written for " + std::to_string(header.total_steps) +
                     " steps, the config asks for " + std::to_string(s.total_steps()) +
                     "; resume with the run's own config");
  }
  if (header.step < 0 || header.step > header.total_steps) {
    throw DataError(path.string() + " records step " + std::to_string(header.step) + " of " +
                    std::to_string(header.total_steps) +
                    " (damaged); move it away to retrain this generation from its start");
  }
  s.step = header.step;
  s.checkpoint_step = header.step;
  if (s.rank_state) s.rank_state->scatter();
  set_generator_state(s.generator, s.generator_state);
}

void FixMatchTrainer::open(bool resume) {
  Impl& s = *impl_;
  const bool writer = s.world.is_main();  // only rank 0 writes the run folder
  if (writer) fs::create_directories(s.out_dir);
  const fs::path metrics_path = s.out_dir / kMetricsFile;
  if (!resume || !fs::exists(s.out_dir / kCheckpointFile)) {
    if (writer) start_metrics_file(metrics_path);
    return;
  }
  load_checkpoint();
  // metrics.jsonl keeps the lines up to the checkpoint's step; later ones are redone.
  s.ema_accuracies.clear();
  if (writer) {
    for (const MetricsLine& line : truncate_metrics_file(metrics_path, s.step)) {
      s.ema_accuracies.push_back(line.acc_ema);
    }
  }
  spdlog::info("{}: resuming at step {} of {}", s.settings.label, s.step, s.total_steps());
}

std::pair<Evaluation, Evaluation> FixMatchTrainer::evaluate_test(WideResNet& net) {
  // Plain and logit-adjusted predictions from one forward pass over the test set.
  Impl& s = *impl_;
  const int num_classes = static_cast<int>(s.data.class_names.size());
  const at::Tensor prior = at::tensor(s.data.class_prior, at::TensorOptions().dtype(at::kDouble));
  // Sharded over the ranks and gathered (the whole set in a world of one rank).
  const at::Tensor logits =
      dist::map_sharded(s.world, s.data.test_images.size(0), [&](std::int64_t b, std::int64_t e) {
        return predict_logits(net, s.data.test_images.narrow(0, b, e - b),
                              s.settings.train.eval_batch_size);
      });
  return {
      evaluate_predictions(logits.argmax(1), s.data.test_labels, num_classes),
      evaluate_predictions(logit_adjust(logits, prior).argmax(1), s.data.test_labels, num_classes)};
}

MetricsLine FixMatchTrainer::evaluate(double lr, double steps_per_sec) {
  Impl& s = *impl_;
  at::Tensor stats = s.stats.cpu();
  if (s.world.distributed()) {
    // The mean over the ranks of each rank's sums: means stay means, counts keep their ratio.
    stats = stats.clone();
    s.world.all_reduce_sum(stats);
    stats.div_(s.world.size());
  }
  const auto* st = stats.data_ptr<double>();
  const double steps = std::max(1.0, st[kSteps]);
  const auto [raw, raw_la] = evaluate_test(model_);
  const auto [ema, ema_la] = evaluate_test(ema_model_);
  MetricsLine line;
  line.step = s.step;
  line.epoch = s.step / s.settings.train.steps_per_epoch;
  line.lr = lr;
  line.loss = st[kLoss] / steps;
  line.loss_x = st[kLossX] / steps;
  line.loss_u = st[kLossU] / steps;
  line.mask_rate = st[kMask] / steps;
  // Unknown (NaN, null in metrics.jsonl) where the unlabeled stream has no hidden labels.
  line.pseudo_label_acc = !s.data.unlabeled_truth.defined()
                              ? std::numeric_limits<double>::quiet_NaN()
                          : st[kPseudoKept] > 0 ? st[kPseudoCorrect] / st[kPseudoKept]
                                                : 0.0;
  line.acc_raw = raw.accuracy;
  line.acc_ema = ema.accuracy;
  line.acc_raw_la = raw_la.accuracy;
  line.acc_ema_la = ema_la.accuracy;
  line.mean_recall_ema = ema.mean_recall;
  line.per_class_recall_ema = ema.per_class.recall;
  line.per_class_recall_raw = raw.per_class.recall;
  line.steps_per_sec = steps_per_sec;
  return line;
}

void FixMatchTrainer::record(const MetricsLine& line) {
  Impl& s = *impl_;
  if (s.world.is_main()) append_metrics_line(s.out_dir / kMetricsFile, line);
  if (s.settings.events != nullptr && s.world.is_main())
    add_metrics_scalars(*s.settings.events, line, s.data.class_names);
  s.ema_accuracies.push_back(line.acc_ema);
  s.stats.zero_();
}

ProgressFields FixMatchTrainer::progress_fields(double lr, const MetricsLine* line) const {
  // Priorities: what the fields are dropped by when the terminal is narrow (lowest first).
  auto field = [](const char* name, const char* short_name, const char* format, double value,
                  int priority) {
    char number[32];
    std::snprintf(number, sizeof(number), format, value);
    return ProgressField{std::string(name) + " " + number, std::string(short_name) + " " + number,
                         priority};
  };
  double loss = 0.0;
  double mask = 0.0;
  if (line != nullptr) {
    loss = line->loss;
    mask = line->mask_rate;
  } else {
    const at::Tensor stats = impl_->stats.cpu();
    const auto* st = stats.data_ptr<double>();
    const double steps = std::max(1.0, st[kSteps]);
    loss = st[kLoss] / steps;
    mask = st[kMask] / steps;
  }
  ProgressFields fields = {field("loss", "loss", "%.4f", loss, 5),
                           field("mask", "mask", "%.3f", mask, 2),
                           field("lr", "lr", "%.5f", lr, 0)};
  if (line != nullptr) {
    // "ema logit-adj": the EMA model's accuracy with logit adjustment (acc_ema_la).
    fields.push_back(field("acc raw", "raw", "%.4f", line->acc_raw, 1));
    fields.push_back(field("acc ema", "ema", "%.4f", line->acc_ema, 6));
    fields.push_back(field("acc ema logit-adj", "logit-adj", "%.4f", line->acc_ema_la, 3));
  }
  return fields;
}

bool FixMatchTrainer::weights_finite() {
  std::vector<at::Tensor> flags;
  for (WideResNet* net : {&model_, &ema_model_}) {
    for (const at::Tensor& p : (*net)->parameters()) flags.push_back(at::isfinite(p).all());
    for (const at::Tensor& b : (*net)->buffers()) {
      if (b.is_floating_point()) flags.push_back(at::isfinite(b).all());
    }
  }
  return at::stack(flags).all().item<bool>();
}

void FixMatchTrainer::check_finite() {
  Impl& s = *impl_;
  // The weights are the same on every rank; the loss flag is each rank's own.
  const bool loss_finite = !s.world.any(s.nonfinite.item<bool>());
  if (loss_finite && weights_finite()) return;
  const fs::path checkpoint = s.out_dir / kCheckpointFile;
  const std::string kept =
      s.checkpoint_step >= 0
          ? "the last good checkpoint (" + checkpoint.string() + ", step " +
                std::to_string(s.checkpoint_step) + ") was kept"
          : "no checkpoint had been written yet, so this generation starts over on --resume";
  throw TrainingDiverged(
      s.settings.label + ": " +
      (loss_finite ? "the model's weights or BatchNorm statistics became non-finite (NaN or inf)"
                   : "the loss became non-finite (NaN or inf)") +
      " by step " + std::to_string(s.step) + "; training stopped and " + kept +
      ". Lower train.lr or check the data");
}

GenerationOutcome FixMatchTrainer::final_outcome(double seconds) {
  Impl& s = *impl_;
  GenerationOutcome outcome;
  outcome.final_ema = evaluate_test(ema_model_).first;
  if (s.ema_accuracies.empty()) s.ema_accuracies.push_back(outcome.final_ema.accuracy);
  outcome.ema_summary = summarize_accuracies(s.ema_accuracies);
  outcome.steps = s.step;
  outcome.seconds = seconds;
  return outcome;
}

void FixMatchTrainer::write_outcome(const GenerationOutcome& outcome) {
  Impl& s = *impl_;
  const std::vector<std::string>& names = s.data.class_names;
  write_per_class_csv(s.out_dir / kPerClassFile, per_class_table(outcome.final_ema, names));
  write_confusion_csv(s.out_dir / kConfusionFile,
                      confusion_table(outcome.final_ema.confusion, names));
  TrainingSummary summary;
  summary.steps = s.step;
  summary.evaluations = static_cast<std::int64_t>(s.ema_accuracies.size());
  summary.ema_accuracy = outcome.ema_summary;
  summary.final_ema = evaluation_figures(outcome.final_ema);
  summary.model_fingerprint = weights_fingerprint(*model_);
  summary.ema_fingerprint = weights_fingerprint(*ema_model_);
  summary.init_backbone_fingerprint = s.init_fingerprint;
  summary.precision = s.bf16 ? "bf16" : "fp32";
  summary.memory_format = s.channels_last ? "channels_last" : "contiguous";
  write_training_summary(s.out_dir / kTrainingSummaryFile, summary);
}

GenerationOutcome FixMatchTrainer::run(bool resume) {
  Impl& s = *impl_;
  open(resume);
  const auto start_time = std::chrono::steady_clock::now();
  auto seconds = [&start_time]() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  };
  const std::int64_t first_step = s.step;
  // The automatic choices depend on the machine (train.amp auto: bf16 on CPUs with bf16
  // instructions): say them.
  spdlog::info("{}: training step in {}, {} layout, {} SGD kernels", s.settings.label,
               s.bf16 ? "bf16 autocast" : "fp32", s.channels_last ? "channels-last" : "contiguous",
               sgd_kernels_name(s.optimizer->kernels()));
  Progress progress(s.settings.label, s.total_steps(), s.step, s.settings.later_steps);
  try {
    train_to_end(progress, first_step, start_time);
  } catch (const TrainingDiverged&) {
    progress.finish();
    throw;
  }
  progress.finish();
  const GenerationOutcome outcome = final_outcome(seconds());
  if (s.world.distributed()) {
    // Every rank must end with the same weights; a difference would be a bug of the
    // data-parallel step, never to be written silently.
    const std::string fingerprints =
        weights_fingerprint(*model_) + " " + weights_fingerprint(*ema_model_);
    spdlog::debug("{}: rank {} model and EMA fingerprints {}", s.settings.label, s.world.rank(),
                  fingerprints);
    if (!s.world.all_equal(fingerprints)) {
      throw std::runtime_error(s.settings.label +
                               ": the ranks ended the generation with different weights (rank " +
                               std::to_string(s.world.rank()) + ": " + fingerprints +
                               "); this is a bug of crest's data-parallel step, please report it");
    }
  }
  if (s.world.is_main()) write_outcome(outcome);
  return outcome;
}

bool FixMatchTrainer::stop_now(std::int64_t step, std::int64_t total_steps) {
  Impl& s = *impl_;
  if (!s.world.distributed()) return stop_requested();
  // Every rank stops at the same step, so that rank 0's checkpoint holds all of them: the flag
  // is agreed on every kStopPollSteps steps (one small collective).
  constexpr std::int64_t kStopPollSteps = 10;
  if (step % kStopPollSteps != 0 && step != total_steps) return false;
  return s.world.any(stop_requested());
}

void FixMatchTrainer::train_to_end(Progress& progress, std::int64_t first_step,
                                   std::chrono::steady_clock::time_point start_time) {
  Impl& s = *impl_;
  const TrainConfig& t = s.settings.train;
  const std::int64_t total_steps = s.total_steps();
  auto seconds = [&start_time]() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  };
  while (s.step < total_steps) {
    const double lr = halfcos_lr(t.lr, s.step, total_steps, t.lr_level);
    step(lr);
    if (s.step % t.steps_per_epoch == 0 || s.step == total_steps) {
      check_finite();
      const double elapsed = seconds();
      const MetricsLine line =
          evaluate(lr, elapsed > 0 ? static_cast<double>(s.step - first_step) / elapsed : 0.0);
      record(line);
      // On a terminal each evaluation stays on screen as a line; crest.log gets it either way.
      progress.record(s.step, progress_fields(lr, &line));
    } else if (progress.due()) {
      progress.update(s.step, progress_fields(lr, nullptr));
    }
    const bool checkpoint_due =
        s.settings.checkpoint_every > 0 && s.step % s.settings.checkpoint_every == 0;
    if (checkpoint_due || s.step == total_steps) save_checkpoint();
    if (stop_now(s.step, total_steps)) {
      progress.finish();
      save_checkpoint();
      throw Interrupted(s.settings.label + ": stopped at step " + std::to_string(s.step) +
                        "; checkpoint written to " + (s.out_dir / kCheckpointFile).string() +
                        ". Continue with --resume");
    }
  }
}

}  // namespace crest
