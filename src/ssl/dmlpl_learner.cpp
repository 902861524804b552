// DmlplLearner (ssl/semi_learners.h): FixMatch's step plus dmlpl.metric_weight x a metric loss on
// the labeled weak view's embeddings. docs/methods.md, "DML-PL: the learner", gives the step.
#include <algorithm>
#include <vector>

#include "crest/ssl/fixmatch.h"
#include "crest/ssl/metric_losses.h"
#include "crest/ssl/semi_learners.h"
#include "crest/util/device.h"

namespace crest {

void DmlplLearner::unlabeled_views(const at::Tensor& images, at::Generator& generator,
                                   std::vector<at::Tensor>& views) {
  // FixMatch's: one weak and one strong view of each unlabeled image.
  views.push_back(weak_augment(images, generator, c_.augment));
  views.push_back(strong_augment(images, generator, c_.augment));
}

StepLoss DmlplLearner::loss(const StepBatch& input, std::int64_t) {
  at::Tensor logits, embeddings;
  {
    // One forward of the backbone over every view (BatchNorm sees the whole batch, as
    // FixMatch's), then both heads: the classifier on every row, the embedding on the labeled.
    AutocastGuard autocast(c_.bf16, c_.device);
    const at::Tensor features = c_.model->features(input.inputs);
    logits = c_.model->classify(features);
    embeddings = c_.model->embed(features.narrow(0, 0, c_.labeled_batch));
  }
  return loss_from_outputs(logits, embeddings, input);
}

StepLoss DmlplLearner::loss_from_outputs(const at::Tensor& logits_in, const at::Tensor& embeddings,
                                         const StepBatch& input) {
  const std::int64_t b = c_.labeled_batch;
  const std::int64_t u = c_.unlabeled_batch;
  const at::Tensor logits = logits_in.to(at::kFloat);
  const auto stat_options = at::TensorOptions().dtype(at::kDouble).device(c_.device);
  const auto d = [](const at::Tensor& t) { return t.detach().to(at::kDouble); };
  // The metric loss over the labeled images of the batch (true and, in CReST, pseudo labels).
  const at::Tensor metric = dmlpl_metric_loss(embeddings.to(at::kFloat), input.labels, c_.dmlpl);
  const at::Tensor one = at::ones({}, stat_options);
  if (u == 0) {
    const at::Tensor loss_x = c_.labeled_loss(logits.narrow(0, 0, b), input.labels);
    const at::Tensor total = loss_x + c_.dmlpl.metric_weight * metric;
    const at::Tensor zero = at::zeros({}, stat_options);
    return {total, at::stack({d(total), d(loss_x), zero, zero, zero, zero, one, d(metric)})};
  }
  // FixMatch's loss exactly as FixMatchLearner: pseudo-labels from the raw model's weak view
  // without gradient, aligned for CReST+.
  const at::Tensor probs = at::softmax(logits.narrow(0, b, u).detach(), 1);
  const at::Tensor target_probs = c_.alignment ? c_.alignment->align(probs) : probs;
  const FixMatchLoss fm =
      fixmatch_loss(logits.narrow(0, 0, b), input.labels, target_probs, logits.narrow(0, b + u, u),
                    c_.train.threshold, c_.train.lambda_u, &c_.labeled_loss);
  observe_alignment(probs);
  const at::Tensor total = fm.total + c_.dmlpl.metric_weight * metric;
  at::Tensor correct = fm.mask;
  if (input.unlabeled_truth.defined()) {
    correct = fm.mask * fm.pseudo_labels.eq(input.unlabeled_truth).to(at::kFloat);
  }
  return {total,
          at::stack({d(total), d(fm.loss_x), d(c_.train.lambda_u * fm.loss_u), d(fm.mask.mean()),
                     d(correct.sum()), d(fm.mask.sum()), one, d(metric)})};
}

EpochLine DmlplLearner::evaluate(const EvaluationInput& input) {
  EpochLine line = SemiLearner::evaluate(input);
  auto* metrics = std::get_if<MetricsLine>(&line);
  if (metrics == nullptr) return line;
  const auto* st = input.stats.data_ptr<double>();
  const double steps = std::max(1.0, st[kStatSteps]);
  metrics->learner_figures = {{"dmlpl_metric_loss", {st[kStatDmlplMetric] / steps}}};
  return line;
}

}  // namespace crest
