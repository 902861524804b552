#include "crest/ssl/trainer.h"

#include <ATen/Context.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "crest/dist/world.h"
#include "crest/io/checkpoint.h"
#include "crest/io/class_tables.h"
#include "crest/io/run_files.h"
#include "crest/io/training_files.h"
#include "crest/models/wrn_weights.h"
#include "crest/ssl/ema.h"
#include "crest/ssl/fixmatch.h"
#include "crest/ssl/losses.h"
#include "crest/ssl/predict.h"
#include "crest/ssl/train_state.h"
#include "crest/ssl/training_loop.h"
#include "crest/util/device.h"
#include "crest/util/error.h"

namespace crest {

namespace fs = std::filesystem;

namespace {

// Seed purposes.
constexpr std::uint64_t kSeedInit = 1;
constexpr std::uint64_t kSeedData = 2;

// This rank's share of the global unlabeled batch, batch_size x unlabeled_ratio (the whole batch
// in a world of one rank; the launcher checks that the world size divides it).
std::int64_t rank_unlabeled_batch(const TrainConfig& t) {
  return static_cast<std::int64_t>(t.batch_size) * t.unlabeled_ratio / dist::world().size();
}

}  // namespace

std::vector<SgdGroup> generation_sgd_groups(WideResNetImpl& model, const TrainConfig& train) {
  std::vector<at::Tensor> exempt;
  if (is_sigmoid_loss(train.labeled_loss)) exempt.push_back(model.classifier()->bias);
  return sgd_groups_without_bn_decay(model, train.weight_decay, exempt);
}

struct GenerationTrainer::Impl {
  TrainerSettings settings;
  at::Device device;
  TrainingData data;
  fs::path out_dir;
  bool bf16 = false;
  bool channels_last = false;
  std::string init_fingerprint;  // backbone_fingerprint after model.init_from; "" = random
  std::string warm_fingerprint;  // crest.warm_start: the EMA weights started from; "" = none
  bool warm_loaded = false;
  WideResNet model{nullptr};
  WideResNet ema_model{nullptr};
  std::unique_ptr<SemiLearner> learner;
  std::unique_ptr<StepEngine> engine;

  Impl(TrainerSettings s, at::Device d, TrainingData td, fs::path out)
      : settings(std::move(s)), device(d), data(std::move(td)), out_dir(std::move(out)) {}

  std::int64_t total_steps() const {
    return static_cast<std::int64_t>(settings.train.steps_per_epoch) * settings.train.epochs;
  }
  void build_models();
  void warm_start();
  void record_warm_start();
  std::unique_ptr<Sgd> build_optimizer();
  SemiLearnerContext learner_context(DistributionAligner alignment);
  GenerationOutcome final_outcome(const LoopResult& result);
  TrainingOutcomeFiles outcome_files(const GenerationOutcome& outcome, std::int64_t evaluations);
};

void GenerationTrainer::Impl::build_models() {
  WideResNetOptions options;
  options.depth = settings.model.depth;
  options.width = settings.model.width;
  options.bn_momentum = settings.model.bn_momentum;
  options.num_classes = static_cast<int>(data.class_names.size());
  options.balanced_head = has_balanced_head(settings.train.algorithm);
  options.embedding_dim =
      has_embedding_head(settings.train.algorithm) ? settings.dmlpl.embedding_dim : 0;
  model = WideResNet(options);
  ema_model = WideResNet(options);
  // Initialise on the CPU from the run seed, so that a seed gives the same start on any device.
  at::Generator init = make_generator(
      at::kCPU, derive_seed(static_cast<std::uint64_t>(settings.seed),
                            static_cast<std::uint64_t>(settings.generation), kSeedInit));
  initialize_wide_resnet(*model, init);
  if (settings.init_weights != nullptr) {
    // The backbone from the file; the classifier head keeps its fresh initialisation.
    load_wrn_backbone(*model, *settings.init_weights, settings.init_source);
    init_fingerprint = backbone_fingerprint(*model);
  }
  const TrainConfig& t = settings.train;
  if (is_sigmoid_loss(t.labeled_loss)) {
    // Cui et al.: every sigmoid starts at the prior 1 / C (the EMA copies it in the engine).
    at::NoGradGuard no_grad;
    model->classifier()->bias.fill_(sigmoid_prior_bias(options.num_classes));
  }
  // The EMA model is only evaluated (eval mode): its BatchNorm never needs the other ranks.
  if (t.sync_bn) model->set_batchnorm_sync(&dist::world());
  model->to(device);
  ema_model->to(device);
  // auto: NHWC on every device. On CPU oneDNN's NHWC convolutions measured 16% faster per
  // quickstart step with tcmalloc (6% slower with glibc malloc; docs/performance.md).
  channels_last = resolve_toggle(t.channels_last, true);
  if (channels_last) {
    to_channels_last(*model);
    to_channels_last(*ema_model);
  }
  if (device.is_cuda() && t.cudnn_benchmark) at::globalContext().setBenchmarkCuDNN(true);
  model->train();
  ema_model->eval();
}

namespace {

constexpr char kWarmStartRemedy[] =
    "put that generation's original checkpoint.pt back and resume (a resume keeps the run's "
    "config, crest.warm_start included), or start a new run folder";

}  // namespace

// crest.warm_start: both models take the previous generation's final EMA weights, replacing the
// initialisation (the EMA restarts as a copy of them, as it starts as a copy of any start).
void GenerationTrainer::Impl::warm_start() {
  if (warm_loaded || settings.warm_start_from.empty()) return;
  const int previous = settings.generation - 1;
  try {
    warm_fingerprint = read_generation_weights(settings.warm_start_from, previous, "ema", *model,
                                               kWarmStartRemedy);
  } catch (const DataError& e) {
    const std::string message = e.what();
    const bool says_what_to_do = message.find(kWarmStartRemedy) != std::string::npos;
    throw DataError("crest.warm_start: " + settings.label + " starts from generation " +
                    std::to_string(previous) + "'s final EMA weights, but " + message +
                    (says_what_to_do ? "" : std::string("; ") + kWarmStartRemedy));
  }
  WeightEma copy(*ema_model, *model);  // makes the EMA model a copy of the loaded weights
  warm_loaded = true;
  spdlog::info(
      "{}: warm start (crest.warm_start) from generation {}'s final EMA weights in {} "
      "(fingerprint {})",
      settings.label, previous, (settings.warm_start_from / kCheckpointFile).string(),
      warm_fingerprint);
}

// A resume from the generation's own checkpoint: the weights it started from are the ones the
// previous generation's summary.json recorded (generation.json fingerprints that file).
void GenerationTrainer::Impl::record_warm_start() {
  if (settings.warm_start_from.empty() || warm_loaded) return;
  const fs::path file = settings.warm_start_from / kTrainingSummaryFile;
  try {
    warm_fingerprint = read_training_summary(file).ema_fingerprint;
  } catch (const DataError& e) {
    throw DataError(std::string("crest.warm_start: ") + e.what() + "; " + kWarmStartRemedy);
  }
}

std::unique_ptr<Sgd> GenerationTrainer::Impl::build_optimizer() {
  const TrainConfig& t = settings.train;
  // PyTorch's Nesterov SGD (the rule of Sgd) keeps the learning rate outside the momentum buffer
  // while Keras' keeps it inside; with the slowly varying halfcos rate the two differ by far less
  // than run-to-run noise.
  std::vector<SgdGroup> groups = generation_sgd_groups(*model, t);
  auto optimizer = std::make_unique<Sgd>(std::move(groups), t.momentum, t.nesterov,
                                         resolve_sgd_kernels(t.sgd, device));
  optimizer->set_lr(t.lr);
  return optimizer;
}

SemiLearnerContext GenerationTrainer::Impl::learner_context(DistributionAligner alignment) {
  const dist::World& world = dist::world();
  SemiLearnerContext c;
  c.train = settings.train;
  c.acr = settings.acr;
  c.semi = settings.semi;
  c.daso = settings.daso;
  c.dmlpl = settings.dmlpl;
  c.device = device;
  c.model = model;
  c.ema_model = ema_model;
  c.data = &data;
  c.alignment = std::move(alignment);
  const at::Tensor bins = at::bincount(data.labeled_targets.cpu(), {},
                                       static_cast<std::int64_t>(data.class_names.size()));
  const std::vector<std::int64_t> counts(bins.data_ptr<std::int64_t>(),
                                         bins.data_ptr<std::int64_t>() + bins.numel());
  c.labeled_loss = make_labeled_loss(settings.train, counts, device);
  // The reference's pad 4 and Cutout 16 are for 32 pixels: other sizes scale them (1/8, 1/2).
  const auto side = static_cast<int>(data.images.size(-1));
  c.augment.pad = std::max(1, side / 8);
  c.augment.cutout_size = std::max(1, side / 2);
  c.bf16 = bf16;
  c.channels_last = channels_last;
  // This rank's share of the global batch (the whole batch in a world of one rank; the loop
  // checks that the world size divides it).
  c.labeled_batch = settings.train.batch_size / world.size();
  c.unlabeled_batch = rank_unlabeled_batch(settings.train);
  return c;
}

GenerationTrainer::GenerationTrainer(TrainerSettings settings, at::Device device, TrainingData data,
                                     fs::path out_dir, DistributionAligner alignment)
    : impl_(std::make_unique<Impl>(std::move(settings), device, std::move(data),
                                   std::move(out_dir))) {
  Impl& s = *impl_;
  const TrainConfig& t = s.settings.train;
  if (s.data.labeled_index.numel() == 0) {
    throw InputError("the labeled set is empty: raise data.label_fraction or check the data");
  }
  if (rank_unlabeled_batch(t) > 0 && s.data.unlabeled_index.numel() == 0) {
    throw InputError("train.unlabeled_ratio is " + std::to_string(t.unlabeled_ratio) +
                     " but the unlabeled stream is empty; set train.unlabeled_ratio=0 for "
                     "supervised training");
  }
  s.build_models();
  // Before the engine, which broadcasts rank 0's start to the other ranks and copies it to the
  // EMA model; a resume from the generation's own checkpoint does not need it.
  if (!fs::exists(s.out_dir / kCheckpointFile)) s.warm_start();
  std::unique_ptr<Sgd> optimizer = s.build_optimizer();
  s.bf16 = use_bf16_autocast(t.amp, device);
  s.learner = make_semi_learner(t.algorithm, s.learner_context(std::move(alignment)));
  EngineSettings engine;
  // The root module's name as before the engine existed (checkpoint.pt stays byte-identical).
  engine.state_name = "FixMatchTrainerState";
  engine.label = s.settings.label;
  engine.data_seed = derive_seed(static_cast<std::uint64_t>(s.settings.seed),
                                 static_cast<std::uint64_t>(s.settings.generation), kSeedData);
  engine.ema_decay = t.ema_decay;
  engine.cuda_graph = t.cuda_graph;
  s.engine = std::make_unique<StepEngine>(engine, device, s.model, s.ema_model,
                                          std::move(optimizer), *s.learner);
}

GenerationTrainer::~GenerationTrainer() = default;

WideResNet& GenerationTrainer::model() { return impl_->model; }
WideResNet& GenerationTrainer::ema_model() { return impl_->ema_model; }
int GenerationTrainer::unlabeled_view_count() const {
  return impl_->learner->unlabeled_view_count();
}
std::int64_t GenerationTrainer::total_steps() const { return impl_->total_steps(); }
StepBatch GenerationTrainer::draw_batch() { return impl_->engine->draw_batch(); }
void GenerationTrainer::optimize(const StepBatch& batch, double lr) {
  impl_->engine->optimize(batch, lr);
}
void GenerationTrainer::step(double lr) { impl_->engine->step(lr); }

nlohmann::json GenerationTrainer::fast_path() const {
  const Impl& s = *impl_;
  return {{"amp_bf16", s.bf16},
          {"channels_last", s.channels_last},
          {"cudnn_benchmark", s.device.is_cuda() && s.settings.train.cudnn_benchmark},
          {"sgd", sgd_kernels_name(s.engine->optimizer().kernels())},
          {"cuda_graph", s.engine->cuda_graph()}};
}

GenerationOutcome GenerationTrainer::Impl::final_outcome(const LoopResult& result) {
  std::vector<double> ema_accuracies;  // one per evaluation, for summary.json
  for (const EpochLine& line : result.lines) {
    ema_accuracies.push_back(std::get<MetricsLine>(line).acc_ema);
  }
  GenerationOutcome outcome;
  outcome.final_ema = evaluate_on_test(ema_model, data, settings.train.eval_batch_size).first;
  if (ema_accuracies.empty()) ema_accuracies.push_back(outcome.final_ema.accuracy);
  outcome.ema_summary = summarize_accuracies(ema_accuracies);
  outcome.steps = engine->steps_done();
  outcome.seconds = result.seconds;
  return outcome;
}

TrainingOutcomeFiles GenerationTrainer::Impl::outcome_files(const GenerationOutcome& outcome,
                                                            std::int64_t evaluations) {
  const std::vector<std::string>& names = data.class_names;
  TrainingOutcomeFiles files;
  files.per_class = per_class_table(outcome.final_ema, names);
  files.confusion = confusion_table(outcome.final_ema.confusion, names);
  TrainingSummary& summary = files.summary;
  summary.steps = engine->steps_done();
  summary.evaluations = std::max<std::int64_t>(1, evaluations);
  summary.ema_accuracy = outcome.ema_summary;
  summary.final_ema = evaluation_figures(outcome.final_ema);
  summary.model_fingerprint = weights_fingerprint(*model);
  summary.ema_fingerprint = weights_fingerprint(*ema_model);
  summary.init_backbone_fingerprint = init_fingerprint;
  summary.warm_start_fingerprint = warm_fingerprint;
  summary.precision = bf16 ? "bf16" : "fp32";
  summary.memory_format = channels_last ? "channels_last" : "contiguous";
  return files;
}

GenerationOutcome GenerationTrainer::run(bool resume) {
  Impl& s = *impl_;
  const TrainConfig& t = s.settings.train;
  const std::unique_ptr<RunSink> own_sink =
      s.settings.sink == nullptr ? make_folder_sink(s.out_dir) : nullptr;
  RunSink& sink = s.settings.sink != nullptr ? *s.settings.sink : *own_sink;
  // As the loop decides: a fresh start (warm when set), or the generation's own checkpoint.
  if (!resume || !fs::exists(s.out_dir / kCheckpointFile)) {
    s.warm_start();
  } else {
    s.record_warm_start();
  }
  LoopSettings loop;
  loop.dir = s.out_dir;
  loop.kind = EpochKind::kGeneration;
  loop.label = s.settings.label;
  loop.total_steps = s.total_steps();
  loop.steps_per_epoch = t.steps_per_epoch;
  loop.checkpoint_every = s.settings.checkpoint_every;
  const std::int64_t total = s.total_steps();
  loop.lr = [&t, total](std::int64_t k) { return halfcos_lr(t.lr, k, total, t.lr_level); };
  loop.later_steps = s.settings.later_steps;
  // The automatic choices depend on the machine (train.amp auto: bf16 on CPUs with bf16
  // instructions): say them.
  loop.banner = s.settings.label + ": training step in " + (s.bf16 ? "bf16 autocast" : "fp32") +
                ", " + (s.channels_last ? "channels-last" : "contiguous") + " layout, " +
                sgd_kernels_name(s.engine->optimizer().kernels()) + " SGD kernels";
  if (t.sync_bn && dist::world().distributed()) {
    loop.banner += ", BatchNorm statistics synchronised over " +
                   std::to_string(dist::world().size()) + " ranks (train.sync_bn)";
  }
  loop.execution = s.engine->execution();
  loop.execution.precision = s.bf16 ? "bf16" : "fp32";
  loop.execution.memory_format = s.channels_last ? "channels_last" : "contiguous";
  const LoopResult result = run_training_loop(*s.engine, *s.learner, sink, loop, resume);
  const GenerationOutcome outcome = s.final_outcome(result);
  s.engine->check_ranks_agree();
  sink.training_outcome(s.out_dir,
                        s.outcome_files(outcome, static_cast<std::int64_t>(result.lines.size())));
  return outcome;
}

}  // namespace crest
