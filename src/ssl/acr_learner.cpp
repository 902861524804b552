// AcrLearner (ssl/semi_learners.h): the views, the forward pass and the bookkeeping around
// ssl/acr.h's arithmetic.
#include <vector>

#include "crest/dist/world.h"
#include "crest/ssl/semi_learners.h"
#include "crest/util/device.h"

namespace crest {

namespace {

// Every rank's `local` [N] in rank order (the tensor itself in a world of one rank).
at::Tensor gathered(const at::Tensor& local) {
  dist::World& world = dist::world();
  return world.distributed() ? at::cat(world.all_gather(local.contiguous())) : local;
}

}  // namespace

AcrLearner::AcrLearner(SemiLearnerContext context) : SemiLearner(std::move(context)) {
  const std::vector<double>& prior = c_.data->class_prior;
  estimate_ = AcrEstimate(prior, c_.acr.tau1, c_.acr.ema_u, c_.acr.class_count, c_.device);
  adjustment_l12_ = acr_adjustment(estimate_->py_con(), at::scalar_tensor(c_.acr.tau12));
  adjustment_l2_ = acr_adjustment(estimate_->py_con(), at::scalar_tensor(c_.acr.tau2));
}

void AcrLearner::register_state(StateTree& tree) {
  SemiLearner::register_state(tree);
  tree.add_module("acr", estimate_.ptr(), /*per_rank=*/false);
}

void AcrLearner::unlabeled_views(const at::Tensor& images, at::Generator& generator,
                                 std::vector<at::Tensor>& views) {
  // train.py's unlabeled transform: one weak and two strong views of each image.
  views.push_back(weak_augment(images, generator, c_.augment));
  views.push_back(strong_augment(images, generator, c_.augment));
  views.push_back(strong_augment(images, generator, c_.augment));
}

EpochLine AcrLearner::evaluate(const EvaluationInput& input) {
  EpochLine line = SemiLearner::evaluate(input);
  if (auto* metrics = std::get_if<MetricsLine>(&line)) {
    const at::Tensor u_py = estimate_->u_py().to(at::kCPU, at::kDouble).contiguous();
    metrics->learner_figures = {
        {"acr_tau", {estimate_->tau().item<double>()}},
        {"acr_u_py",
         std::vector<double>(u_py.data_ptr<double>(), u_py.data_ptr<double>() + u_py.numel())}};
  }
  return line;
}

StepLoss AcrLearner::loss(const StepBatch& input, std::int64_t step) {
  const std::int64_t steps_per_epoch = c_.train.steps_per_epoch;
  const std::int64_t epoch = step / steps_per_epoch;
  const bool estimating = epoch > c_.acr.est_epoch;
  // The epoch's tau from the previous epoch's divergences (train.py l. 467-474).
  if (step % steps_per_epoch == 0) estimate_->start_epoch(steps_per_epoch, estimating);
  const std::int64_t b = c_.labeled_batch;
  const std::int64_t u = c_.unlabeled_batch;
  at::Tensor logits, logits_b;
  {
    // One forward over every view: BatchNorm sees the whole batch, as in the reference.
    AutocastGuard autocast(c_.bf16, c_.device);
    const at::Tensor features = c_.model->features(input.inputs);
    logits = c_.model->classify(features);
    logits_b = c_.model->classify_balanced(features);
  }
  AcrLogits views{logits.narrow(0, 0, b),       logits.narrow(0, b, u),
                  logits.narrow(0, b + u, u),   logits.narrow(0, b + 2 * u, u),
                  logits_b.narrow(0, 0, b),     logits_b.narrow(0, b, u),
                  logits_b.narrow(0, b + u, u), logits_b.narrow(0, b + 2 * u, u)};
  std::function<at::Tensor(const at::Tensor&)> align;
  if (c_.alignment) align = [this](const at::Tensor& p) { return c_.alignment->align(p); };
  const AcrLoss loss =
      acr_loss(views, input.labels,
               AcrAdjustments{estimate_->adjustment_l1(), adjustment_l12_, adjustment_l2_},
               c_.train.threshold, c_.acr.temperature, c_.train.lambda_u, c_.labeled_loss, align);
  if (u > 0) {
    if (c_.alignment) observe_alignment(at::softmax(views.u_weak.detach().to(at::kFloat), 1));
    // The reference's mask_l * mask_b (l. 560): the labeled images in the unlabeled stream
    // (data.protocol acr) do not count toward the estimate.
    const at::Tensor mask_b = !input.unlabeled_is_labeled.defined()
                                  ? loss.mask_b
                                  : loss.mask_b * input.unlabeled_is_labeled.logical_not();
    if (estimating) estimate_->observe(gathered(loss.targets_b), gathered(mask_b));
  }
  const auto stat_options = at::TensorOptions().dtype(at::kDouble).device(c_.device);
  const at::Tensor zero = at::zeros({}, stat_options);
  at::Tensor correct = loss.mask.sum().to(at::kDouble);
  if (input.unlabeled_truth.defined()) {
    correct = (loss.mask * loss.pseudo_labels.eq(input.unlabeled_truth).to(at::kFloat))
                  .sum()
                  .to(at::kDouble);
  }
  const auto d = [](const at::Tensor& t) { return t.detach().to(at::kDouble); };
  return {loss.total,
          at::stack({d(loss.total), d(loss.loss_x + loss.loss_xb), d(loss.loss_u + loss.loss_ub),
                     u > 0 ? d(loss.mask.mean()) : zero, u > 0 ? correct : zero, d(loss.mask.sum()),
                     at::ones({}, stat_options)})};
}

}  // namespace crest
