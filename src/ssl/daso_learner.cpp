// DasoLearner (ssl/semi_learners.h): the views, the two forward passes, the queue and the
// pseudo-label counts across steps and ranks around ssl/daso.h's arithmetic. Steps refer to
// docs/methods.md, "DASO", "One step, in order".
#include <vector>

#include "crest/dist/world.h"
#include "crest/ssl/fixmatch.h"
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

}  // namespace

DasoLearner::DasoLearner(SemiLearnerContext context) : SemiLearner(std::move(context)) {
  const auto classes = static_cast<std::int64_t>(c_.data->class_names.size());
  const std::int64_t dim = 64 * c_.model->options().width;
  queue_ = DasoQueue(classes, c_.daso.queue_size, dim, c_.device);
  const auto i64 = at::TensorOptions().dtype(at::kLong).device(c_.device);
  period_counts_ = at::zeros({classes}, i64);
  pl_counts_ = at::zeros({classes}, i64);
}

void DasoLearner::register_state(StateTree& tree) {
  SemiLearner::register_state(tree);
  tree.add_module("daso_queue", queue_.ptr(), /*per_rank=*/false);
  period_counts_ = tree.add_buffer("daso_period_counts", period_counts_, false);
  pl_counts_ = tree.add_buffer("daso_pl_counts", pl_counts_, false);
}

void DasoLearner::unlabeled_views(const at::Tensor& images, at::Generator& generator,
                                  std::vector<at::Tensor>& views) {
  // FixMatch's: one weak and one strong view of each unlabeled image.
  views.push_back(weak_augment(images, generator, c_.augment));
  views.push_back(strong_augment(images, generator, c_.augment));
}

EpochLine DasoLearner::evaluate(const EvaluationInput& input) {
  EpochLine line = SemiLearner::evaluate(input);
  auto* metrics = std::get_if<MetricsLine>(&line);
  if (metrics == nullptr || pl_counts_.sum().item<std::int64_t>() == 0) return line;
  const at::Tensor v =
      daso_blend_weights(pl_counts_, c_.daso.dist_temperature).to(at::kCPU, at::kDouble);
  metrics->learner_figures = {
      {"daso_blend_weights",
       std::vector<double>(v.data_ptr<double>(), v.data_ptr<double>() + v.numel())}};
  return line;
}

StepLoss DasoLearner::loss(const StepBatch& input, std::int64_t step) {
  const std::int64_t b = c_.labeled_batch;
  at::Tensor queue_features, features, logits;
  {
    // Step 1: the EMA model's features of the labeled weak view, BatchNorm on the batch's
    // statistics (the reference's EMA model stays in training mode; crest's EMA copies the
    // model's BatchNorm buffers after the step, so the running statistics it moves are reset).
    at::NoGradGuard no_grad;
    AutocastGuard autocast(c_.bf16, c_.device);
    c_.ema_model->train();
    queue_features = c_.ema_model->features(input.inputs.narrow(0, 0, b));
    c_.ema_model->eval();
  }
  {
    // Step 2: one forward of the model over every view.
    AutocastGuard autocast(c_.bf16, c_.device);
    features = c_.model->features(input.inputs);
    logits = c_.model->classify(features);
  }
  return loss_from_outputs(queue_features, features, logits, input, step);
}

void DasoLearner::count_pseudo_labels(const at::Tensor& probs, std::int64_t step) {
  at::NoGradGuard no_grad;
  const at::Tensor counts = at::bincount(at::argmax(probs, 1), {}, pl_counts_.size(0));
  period_counts_.add_(summed(counts));
  if ((step + 1) % c_.daso.dist_update_period == 0) {
    pl_counts_.copy_(period_counts_);
    period_counts_.zero_();
  }
}

StepLoss DasoLearner::loss_from_outputs(const at::Tensor& queue_features,
                                        const at::Tensor& features_in, const at::Tensor& logits_in,
                                        const StepBatch& input, std::int64_t step) {
  const std::int64_t b = c_.labeled_batch;
  const std::int64_t u = c_.unlabeled_batch;
  const at::Tensor features = features_in.to(at::kFloat);
  const at::Tensor logits = logits_in.to(at::kFloat);
  // Step 3: the queue takes this step's labeled features first (every rank's, in rank order).
  queue_->enqueue(gathered_rows(queue_features.to(at::kFloat)), gathered_rows(input.labels));
  const auto stat_options = at::TensorOptions().dtype(at::kDouble).device(c_.device);
  const auto d = [](const at::Tensor& t) { return t.detach().to(at::kDouble); };
  if (u == 0) {
    const at::Tensor total = c_.labeled_loss(logits.narrow(0, 0, b), input.labels);
    const at::Tensor zero = at::zeros({}, stat_options);
    return {total,
            at::stack({d(total), d(total), zero, zero, zero, zero, at::ones({}, stat_options)})};
  }
  const bool warm = step < c_.daso.warmup_steps;
  const at::Tensor z_w = logits.narrow(0, b, u);
  at::Tensor semantic;
  at::Tensor loss_align = at::zeros({}, logits.options());
  if (!warm) {
    // Step 4: the semantic pseudo-label of the weak view, the alignment of the strong view's.
    const at::Tensor prototypes = queue_->prototypes();
    {
      at::NoGradGuard no_grad;
      semantic = at::softmax(
          daso_similarity(features.narrow(0, b, u).detach(), prototypes, c_.daso.proto_temperature),
          1);
    }
    if (c_.daso.alignment_weight > 0) {
      loss_align = daso_alignment_loss(
          semantic,
          daso_similarity(features.narrow(0, b + u, u), prototypes, c_.daso.proto_temperature));
    }
  }
  // Step 5: the linear pseudo-label (CReST+: aligned first, crest's choice), blended after warm-up.
  const at::Tensor probs = at::softmax(z_w.detach(), 1);
  at::Tensor target = c_.alignment ? c_.alignment->align(probs) : probs;
  if (!warm) {
    const at::Tensor v = c_.daso.dist_aware
                             ? daso_blend_weights(pl_counts_, c_.daso.dist_temperature)
                             : at::Tensor();
    target = daso_blend(target, semantic, v, c_.daso.interp_alpha);
  }
  // Step 6: FixMatch's losses on the final pseudo-label; the alignment loss added.
  const FixMatchLoss fm =
      fixmatch_loss(logits.narrow(0, 0, b), input.labels, target, logits.narrow(0, b + u, u),
                    c_.train.threshold, c_.train.lambda_u, &c_.labeled_loss);
  observe_alignment(probs);
  // Step 7: every final pseudo-label counts toward the period's distribution.
  count_pseudo_labels(target, step);
  const at::Tensor total = fm.total + c_.daso.alignment_weight * loss_align;
  at::Tensor correct = fm.mask;
  if (input.unlabeled_truth.defined()) {
    correct = fm.mask * fm.pseudo_labels.eq(input.unlabeled_truth).to(at::kFloat);
  }
  return {total,
          at::stack({d(total), d(fm.loss_x),
                     d(c_.train.lambda_u * fm.loss_u + c_.daso.alignment_weight * loss_align),
                     d(fm.mask.mean()), d(correct.sum()), d(fm.mask.sum()),
                     at::ones({}, stat_options)})};
}

}  // namespace crest
