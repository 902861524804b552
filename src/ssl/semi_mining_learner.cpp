// SeMiLearner (ssl/semi_learners.h): the views, the forward pass, the bookkeeping across steps
// and ranks around ssl/semi_mining.h's arithmetic. Steps refer to docs/methods.md, "SeMi", "One
// step, in order".
#include <vector>

#include "crest/dist/world.h"
#include "crest/ssl/semi_learners.h"
#include "crest/util/device.h"

namespace crest {

namespace {

// Every rank's `local` rows in rank order (the tensor itself in a world of one rank).
at::Tensor gathered_rows(const at::Tensor& local) {
  dist::World& world = dist::world();
  return world.distributed() ? at::cat(world.all_gather(local.contiguous())) : local;
}

// `local` summed over the ranks (a copy).
at::Tensor summed(const at::Tensor& local) {
  at::Tensor out = local.contiguous().clone();
  dist::World& world = dist::world();
  if (world.distributed()) world.all_reduce_sum(out);
  return out;
}

at::Tensor twice(const at::Tensor& t) { return at::cat({t, t}); }

}  // namespace

SeMiLearner::SeMiLearner(SemiLearnerContext context) : SemiLearner(std::move(context)) {
  const auto classes = static_cast<std::int64_t>(c_.data->class_names.size());
  const std::int64_t dim = 64 * c_.model->options().width;
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(c_.device);
  bank_ = SemiMemoryBank(classes, c_.semi.bank_per_class, dim, c_.device);
  center_ = at::zeros({1, dim}, f32);
  label_counts_ = at::zeros({classes}, f32);
  class_weight_ = at::ones({classes}, f32);
  const at::Tensor prior =
      at::tensor(c_.data->class_prior, at::TensorOptions().dtype(at::kDouble)).to(c_.device);
  adjustment_l12_ = semi_logit_adjustment(prior, c_.acr.tau12);
  adjustment_l2_ = semi_logit_adjustment(prior, c_.acr.tau2);
}

void SeMiLearner::register_state(StateTree& tree) {
  SemiLearner::register_state(tree);
  tree.add_module("semi_bank", bank_.ptr(), /*per_rank=*/false);
  center_ = tree.add_buffer("semi_center", center_, false);
  label_counts_ = tree.add_buffer("semi_label_counts", label_counts_, false);
  class_weight_ = tree.add_buffer("semi_class_weight", class_weight_, false);
}

void SeMiLearner::unlabeled_views(const at::Tensor& images, at::Generator& generator,
                                  std::vector<at::Tensor>& views) {
  // As ACR's: one weak and two strong views of each unlabeled image.
  views.push_back(weak_augment(images, generator, c_.augment));
  views.push_back(strong_augment(images, generator, c_.augment));
  views.push_back(strong_augment(images, generator, c_.augment));
}

at::Tensor SeMiLearner::pseudo_labels(const at::Tensor& logits_weak,
                                      const at::Tensor& strong_features, std::int64_t step) {
  const std::int64_t steps_per_epoch = c_.train.steps_per_epoch;
  const std::int64_t epoch = step / steps_per_epoch;
  // Step 2: not logit-adjusted (--pula 0); CReST+ aligns it before the blend (crest's choice).
  at::Tensor p = at::softmax(logits_weak.detach() / c_.acr.temperature, -1);
  if (c_.alignment) p = c_.alignment->align(p);
  // Step 3: the bank's prototypes (before this step's insertions) blended in.
  if (c_.semi.prototype_blend && epoch > c_.semi.start_epoch) {
    const at::Tensor q = semi_prototype_probs(strong_features.detach(), bank_->prototypes(),
                                              c_.semi.proto_temperature);
    p = semi_blend_pseudo_labels(p, q, class_weight_, c_.semi.alpha,
                                 static_cast<double>(epoch) / static_cast<double>(steps_per_epoch));
  }
  return p;
}

void SeMiLearner::update_state(const SemiViewFeatures& views, const SemiTargets& targets,
                               const at::Tensor& probs, std::int64_t step) {
  at::NoGradGuard no_grad;
  const std::int64_t steps_per_epoch = c_.train.steps_per_epoch;
  // Step 6: confident pseudo-labels per class, over every rank; the weights at an epoch's end.
  label_counts_.add_(summed(semi_confident_counts(probs, targets.mask)).to(at::kFloat));
  if ((step + 1) % steps_per_epoch == 0) class_weight_.copy_(semi_class_frequency(label_counts_));
  // Step 7: the doubled strong rows of every rank, as one big batch (first copies, then second).
  bank_->update(at::cat({gathered_rows(views.strong), gathered_rows(views.strong1)}),
                twice(gathered_rows(targets.targets)), twice(gathered_rows(targets.confidence)),
                twice(gathered_rows(targets.mask)));
  // Step 12: decay every semi.decay_steps steps of an epoch.
  if (((step % steps_per_epoch) + 1) % c_.semi.decay_steps == 0) bank_->decay();
}

StepLoss SeMiLearner::loss(const StepBatch& input, std::int64_t step) {
  at::Tensor features, logits, logits_b;
  {
    // Step 1: one forward over every view, both heads on the same features.
    AutocastGuard autocast(c_.bf16, c_.device);
    features = c_.model->features(input.inputs);
    logits = c_.model->classify(features);
    logits_b = c_.model->classify_balanced(features);
  }
  return loss_from_outputs(features, logits, logits_b, input, step);
}

StepLoss SeMiLearner::loss_from_outputs(const at::Tensor& features_in, const at::Tensor& logits_in,
                                        const at::Tensor& logits_b_in, const StepBatch& input,
                                        std::int64_t step) {
  const std::int64_t b = c_.labeled_batch;
  const std::int64_t u = c_.unlabeled_batch;
  const at::Tensor features = features_in.to(at::kFloat);
  const at::Tensor logits = logits_in.to(at::kFloat);
  const at::Tensor logits_b = logits_b_in.to(at::kFloat);
  const at::Tensor loss_x = c_.labeled_loss(logits.narrow(0, 0, b), input.labels);
  const at::Tensor loss_xb =
      semi_balanced_labeled_loss(logits_b.narrow(0, 0, b), input.labels, adjustment_l2_)
          .to(at::kFloat);
  const auto stat_options = at::TensorOptions().dtype(at::kDouble).device(c_.device);
  const auto d = [](const at::Tensor& t) { return t.detach().to(at::kDouble); };
  if (u == 0) {
    const at::Tensor total = loss_x + loss_xb;
    const at::Tensor zero = at::zeros({}, stat_options);
    return {total,
            at::stack({d(total), d(total), zero, zero, zero, zero, at::ones({}, stat_options)})};
  }
  const SemiViewFeatures views =
      semi_view_features(features, b, c_.semi.feature_rows == SemiFeatureRows::kReference);
  const at::Tensor z_w = logits.narrow(0, b, u);
  const at::Tensor probs = pseudo_labels(z_w, views.strong, step);
  const SemiTargets t = semi_targets(probs, z_w.detach(), logits_b.narrow(0, b, u).detach(),
                                     adjustment_l12_, c_.train.threshold, c_.acr.temperature);
  if (c_.alignment) observe_alignment(at::softmax(z_w.detach(), 1));
  // Steps 8-9, from the epoch after semi.start_epoch: mining weights and feature consistency.
  const bool active = step / c_.train.steps_per_epoch > c_.semi.start_epoch;
  at::Tensor weights = at::ones({2 * u}, logits.options());
  at::Tensor loss_cons = at::zeros({}, logits.options());
  if (active) {
    weights = twice(semi_hard_example_weights(probs, c_.semi.hard_scale));
    const SemiConsistency cons = semi_feature_consistency(
        views.weak, views.strong, views.strong1, center_, t.mask, c_.semi.consistency_temperature);
    loss_cons = cons.loss;
    at::NoGradGuard no_grad;
    center_.copy_(
        semi_update_center(center_, summed(cons.teacher_sum), 2 * u * dist::world().size()));
  }
  update_state(views, t, probs, step);
  // Step 10: both heads on both strong views.
  const at::Tensor loss_u = semi_masked_cross_entropy(
      at::cat({logits.narrow(0, b + u, u), logits.narrow(0, b + 2 * u, u)}), twice(t.targets),
      twice(t.mask), weights);
  const at::Tensor loss_ub = semi_masked_cross_entropy(
      at::cat({logits_b.narrow(0, b + u, u), logits_b.narrow(0, b + 2 * u, u)}),
      twice(t.targets_balanced), twice(t.mask_balanced), at::Tensor());
  // Step 11 (train.lambda_u 1 is the code, which has no weight).
  const at::Tensor total = loss_x + loss_xb + c_.train.lambda_u * (loss_u + loss_ub) +
                           c_.semi.consistency_weight * loss_cons;
  at::Tensor correct = t.mask.sum().to(at::kDouble);
  if (input.unlabeled_truth.defined()) {
    correct = (t.mask * t.targets.eq(input.unlabeled_truth).to(at::kFloat)).sum().to(at::kDouble);
  }
  return {total.to(at::kFloat),
          at::stack({d(total), d(loss_x + loss_xb),
                     d(loss_u + loss_ub + c_.semi.consistency_weight * loss_cons), d(t.mask.mean()),
                     correct, d(t.mask.sum()), at::ones({}, stat_options)})};
}

}  // namespace crest
