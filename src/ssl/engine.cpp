#include "crest/ssl/engine.h"

#include <ATen/autocast_mode.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crest/dist/gradient_reducer.h"
#include "crest/dist/rank_state.h"
#include "crest/dist/world.h"
#include "crest/io/checkpoint.h"
#include "crest/ssl/ema.h"
#include "crest/ssl/train_state.h"
#include "crest/util/device.h"
#include "crest/util/error.h"
#include "crest/util/signals.h"
#include "crest/util/torch_version.h"

#if CREST_HAS_CUDA_GRAPHS
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace crest {

namespace {

// Eager steps before a CUDA graph is captured (lazy initialisations, cuDNN autotuning).
constexpr int kGraphWarmupSteps = 3;

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

void StateTree::add_module(const std::string& name, std::shared_ptr<torch::nn::Module> module,
                           bool per_rank) {
  if (per_rank) {
    for (const auto& b : module->named_buffers())
      per_rank_.emplace_back(name + "." + b.key(), b.value());
  }
  root_.register_module(name, std::move(module));
}

at::Tensor StateTree::add_buffer(const std::string& name, const at::Tensor& buffer, bool per_rank) {
  at::Tensor registered = root_.register_buffer(name, buffer);
  if (per_rank) per_rank_.emplace_back(name, registered);
  return registered;
}

// What the engine keeps besides the models.
struct StepEngine::Parts {
  std::unique_ptr<WeightEma> ema;
  at::Generator generator;     // sampling and augmentation, on the training device
  at::Tensor generator_state;  // uint8: the generator's state, refreshed before each save
  at::Tensor stats;            // float64 [stat_count] on the device, since the last reset
  at::Tensor nonfinite;        // bool scalar on the device: a non-finite loss has been seen
  std::shared_ptr<torch::nn::Module> state;
  std::unique_ptr<dist::GradientReducer> reducer;
  std::unique_ptr<dist::RankStateMirror> rank_state;
  std::set<std::string> per_rank_names;  // the state's per-rank buffers (not compared)
};

// CUDA graph of optimize(): the inputs are copied into `batch`, whose memory the graph reads on
// every replay.
struct StepEngine::Graph {
  int eager_steps = 0;
  StepBatch batch;
#if CREST_HAS_CUDA_GRAPHS
  std::unique_ptr<at::cuda::CUDAGraph> graph;
#endif
};

StepEngine::StepEngine(EngineSettings settings, at::Device device, WideResNet model, WideResNet ema,
                       std::unique_ptr<Sgd> optimizer, Learner& learner)
    : settings_(std::move(settings)),
      device_(device),
      world_(dist::world()),
      learner_(learner),
      model_(std::move(model)),
      ema_model_(std::move(ema)),
      optimizer_(std::move(optimizer)),
      parts_(std::make_unique<Parts>()),
      graph_(std::make_unique<Graph>()) {
  Parts& p = *parts_;
  cuda_graph_ = resolve_cuda_graph(settings_.cuda_graph, device);
  std::uint64_t data_seed = settings_.data_seed;
  if (world_.distributed()) {
    // Every rank starts from rank 0's weights (the same seed gives the same ones; the broadcast
    // makes it so whatever the devices), and averages its gradients with the others.
    std::vector<at::Tensor> tensors = model_->parameters();
    for (const at::Tensor& b : model_->buffers()) tensors.push_back(b);
    world_.broadcast(tensors);
    p.reducer = std::make_unique<dist::GradientReducer>(model_->parameters(), world_);
    // Collectives cannot be replayed inside a captured graph here; each rank samples its own
    // stream from the run seed and its rank.
    if (settings_.cuda_graph == Toggle::kOn) {
      throw InputError("train.cuda_graph=on is not supported with more than one rank (world size " +
                       std::to_string(world_.size()) + "); use auto or off");
    }
    cuda_graph_ = false;
    data_seed = dist::rank_seed(data_seed, world_.rank());
  }
  if (ema_model_) p.ema = std::make_unique<WeightEma>(*ema_model_, *model_);
  // A learner whose step reads more than its batch (a fresh MixUp per step) runs eagerly.
  if (!learner_.graph_capturable()) cuda_graph_ = false;
  p.generator = make_generator(device, data_seed);
  p.stats =
      at::zeros({learner_.stat_count()}, at::TensorOptions().dtype(at::kDouble).device(device));
  p.nonfinite = at::zeros({}, at::TensorOptions().dtype(at::kBool).device(device));
  register_state(learner);
}

StepEngine::~StepEngine() = default;

void StepEngine::register_state(Learner& learner) {
  Parts& p = *parts_;
  p.state = std::make_shared<torch::nn::Module>(settings_.state_name);
  StateTree tree(*p.state);
  tree.add_module("model", model_.ptr(), false);
  if (ema_model_) tree.add_module("ema", ema_model_.ptr(), false);
  tree.add_module("optimizer", momentum_module(optimizer_->buffers()), false);
  learner.register_state(tree);
  p.generator_state = tree.add_buffer("generator", read_generator_state(p.generator).clone(), true);
  tree.add_buffer("stats", p.stats, true);
  for (const auto& [name, tensor] : tree.per_rank()) p.per_rank_names.insert(name);
  if (world_.distributed()) {
    p.rank_state =
        std::make_unique<dist::RankStateMirror>(std::move(tree.per_rank()), *p.state, world_);
  }
}

StepBatch StepEngine::draw_batch() { return learner_.draw_batch(parts_->generator); }

void StepEngine::step(double lr) {
  optimize(draw_batch(), lr);
  ++step_;
}

void StepEngine::run_step(const StepBatch& batch, bool device_lr) {
  Parts& p = *parts_;
  optimizer_->zero_grad();
  const StepLoss loss = learner_.loss(batch, step_);
  if (p.reducer) p.reducer->prepare();
  loss.total.backward();
  if (p.reducer) {
    // The mean gradient of the global batch; BatchNorm's running statistics are rank 0's on
    // every rank (torch DDP's broadcast_buffers), so the raw and EMA models stay identical.
    p.reducer->finish();
    world_.broadcast(model_->buffers());
  }
  optimizer_->step(device_lr);
  if (p.ema) p.ema->update(settings_.ema_decay);
  // Statistics stay on the device: no host synchronisation inside the step.
  p.stats.add_(loss.stats);
  p.nonfinite.logical_or_(loss.total.detach().isfinite().logical_not());
}

void StepEngine::optimize(const StepBatch& input, double lr) {
  optimizer_->set_lr(lr, /*on_device=*/cuda_graph_);
  if (!cuda_graph_) {
    run_step(input, /*device_lr=*/false);
    return;
  }
#if CREST_HAS_CUDA_GRAPHS
  Graph& g = *graph_;
  StepBatch& fixed = g.batch;
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
  if (g.graph) {
    g.graph->replay();
    return;
  }
  // Warm-up steps and the capture run on a side stream (capture cannot use the default one);
  // the device is synchronised around them, a handful of times per generation.
  torch::cuda::synchronize();
  {
    c10::cuda::CUDAStreamGuard side(at::cuda::getStreamFromPool());
    if (g.eager_steps < kGraphWarmupSteps) {
      run_step(fixed, /*device_lr=*/true);
      ++g.eager_steps;
    } else {
      g.graph = capture_graph([&] { run_step(fixed, /*device_lr=*/true); }, settings_.cuda_graph,
                              settings_.label);
      if (!g.graph) cuda_graph_ = false;
    }
  }
  torch::cuda::synchronize();
  if (g.graph) {
    g.graph->replay();  // capturing recorded the step without running it
  } else if (!cuda_graph_) {
    run_step(fixed, /*device_lr=*/true);  // the capture failed: this step runs eagerly
  }
#endif
}

ExecutionSegment StepEngine::execution() const {
  ExecutionSegment segment;
  segment.device = describe_device(device_);
  segment.sgd = sgd_kernels_name(optimizer_->kernels());
  segment.cuda_graph = cuda_graph_;
  return segment;
}

at::Tensor StepEngine::local_stats() const { return parts_->stats.cpu(); }

at::Tensor StepEngine::mean_stats() {
  at::Tensor stats = parts_->stats.cpu();
  if (world_.distributed()) {
    // The mean over the ranks of each rank's sums: means stay means, counts keep their ratio.
    stats = stats.clone();
    world_.all_reduce_sum(stats);
    stats.div_(world_.size());
  }
  return stats;
}

void StepEngine::reset_stats() { parts_->stats.zero_(); }

bool StepEngine::loss_diverged() { return world_.any(parts_->nonfinite.item<bool>()); }

bool StepEngine::weights_finite() {
  std::vector<at::Tensor> flags;
  for (WideResNet* net : {&model_, &ema_model_}) {
    if (!*net) continue;
    for (const at::Tensor& p : (*net)->parameters()) flags.push_back(at::isfinite(p).all());
    for (const at::Tensor& b : (*net)->buffers()) {
      if (b.is_floating_point()) flags.push_back(at::isfinite(b).all());
    }
  }
  return at::stack(flags).all().item<bool>();
}

bool StepEngine::stop_agreed(std::int64_t step, std::int64_t total_steps) {
  if (!world_.distributed()) return stop_requested();
  // Every rank stops at the same step, so that rank 0's checkpoint holds all of them: the flag
  // is agreed on every kStopPollSteps steps (one small collective).
  constexpr std::int64_t kStopPollSteps = 10;
  if (step % kStopPollSteps != 0 && step != total_steps) return false;
  return world_.any(stop_requested());
}

torch::nn::Module& StepEngine::state_for_save() {
  Parts& p = *parts_;
  p.generator_state.copy_(read_generator_state(p.generator));
  if (p.rank_state) p.rank_state->gather();
  return *p.state;
}

CheckpointHeader StepEngine::load(const std::filesystem::path& file) {
  Parts& p = *parts_;
  const CheckpointHeader header = read_checkpoint(file, *p.state);
  step_ = header.step;
  if (p.rank_state) p.rank_state->scatter();
  set_generator_state(p.generator, p.generator_state);
  return header;
}

void StepEngine::check_ranks_agree() {
  if (!world_.distributed()) return;
  // Every rank must end with the same weights; a difference would be a bug of the data-parallel
  // step, never to be written silently.
  std::string fingerprints = weights_fingerprint(*model_);
  if (ema_model_) fingerprints += " " + weights_fingerprint(*ema_model_);
  // And the learner's shared state (CReST+'s p_model, ACR's estimate, SeMi's bank): every rank
  // must hold the same, since rank 0's is the one a checkpoint keeps.
  std::vector<at::Tensor> shared;
  for (const auto& item : parts_->state->named_buffers()) {
    const std::string& name = item.key();
    const bool own = name.rfind("model.", 0) != 0 && name.rfind("ema.", 0) != 0 &&
                     name.rfind("optimizer.", 0) != 0 && name.rfind("ranks.", 0) != 0;
    if (own && parts_->per_rank_names.count(name) == 0) shared.push_back(item.value());
  }
  if (!shared.empty()) fingerprints += " " + tensors_fingerprint(shared);
  spdlog::debug("{}: rank {} {} {}", settings_.label, world_.rank(),
                ema_model_ ? "model and EMA fingerprints" : "model fingerprint", fingerprints);
  if (!world_.all_equal(fingerprints)) {
    throw std::runtime_error(
        settings_.label +
        ": the ranks ended the training with different weights or learner state (rank " +
        std::to_string(world_.rank()) + ": " + fingerprints +
        "); this is a bug of crest's data-parallel step, please report it");
  }
}

}  // namespace crest
