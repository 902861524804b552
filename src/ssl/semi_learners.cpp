#include "crest/ssl/semi_learners.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "crest/dist/rank_state.h"
#include "crest/dist/world.h"
#include "crest/ssl/fixmatch.h"
#include "crest/ssl/mixmatch.h"
#include "crest/ssl/predict.h"
#include "crest/util/device.h"

namespace crest {

ProgressField progress_field(const char* name, const char* short_name, const char* format,
                             double value, int priority) {
  char number[32];
  std::snprintf(number, sizeof(number), format, value);
  if (std::isnan(value)) std::snprintf(number, sizeof(number), "n/a");  // undefined
  return ProgressField{std::string(name) + " " + number, std::string(short_name) + " " + number,
                       priority};
}

std::pair<Evaluation, Evaluation> evaluate_on_test(WideResNet& net, const TrainingData& data,
                                                   int eval_batch_size) {
  // Plain and logit-adjusted predictions from one forward pass over the test set.
  const int num_classes = static_cast<int>(data.class_names.size());
  const at::Tensor prior = at::tensor(data.class_prior, at::TensorOptions().dtype(at::kDouble));
  // Sharded over the ranks and gathered (the whole set in a world of one rank).
  const at::Tensor logits = dist::map_sharded(
      dist::world(), data.test_images.size(0), [&](std::int64_t b, std::int64_t e) {
        return predict_logits(net, data.test_images.narrow(0, b, e - b), eval_batch_size);
      });
  return {
      evaluate_predictions(logits.argmax(1), data.test_labels, num_classes),
      evaluate_predictions(logit_adjust(logits, prior).argmax(1), data.test_labels, num_classes)};
}

SemiLearner::SemiLearner(SemiLearnerContext context) : c_(std::move(context)) {
  labeled_stream_ = IndexSampler(c_.data->labeled_index.numel(), c_.device);
  if (c_.data->unlabeled_index.numel() > 0) {
    unlabeled_stream_ = IndexSampler(c_.data->unlabeled_index.numel(), c_.device);
  }
}

void SemiLearner::register_state(StateTree& tree) {
  tree.add_module("labeled_sampler", labeled_stream_.ptr(), /*per_rank=*/true);
  if (unlabeled_stream_) tree.add_module("unlabeled_sampler", unlabeled_stream_.ptr(), true);
  if (c_.alignment) tree.add_module("alignment", c_.alignment.ptr(), false);
}

StepBatch SemiLearner::draw_batch(at::Generator& generator) {
  const TrainingData& data = *c_.data;
  StepBatch out;
  const at::Tensor pos_l = labeled_stream_->next(c_.labeled_batch, generator);
  out.labels = data.labeled_targets.index_select(0, pos_l);
  const at::Tensor images_l =
      data.images.index_select(0, data.labeled_index.index_select(0, pos_l));
  std::vector<at::Tensor> views = {weak_augment(images_l, generator, c_.augment)};
  if (c_.unlabeled_batch > 0) {
    const at::Tensor pos_u = unlabeled_stream_->next(c_.unlabeled_batch, generator);
    const at::Tensor images_u =
        data.images.index_select(0, data.unlabeled_index.index_select(0, pos_u));
    unlabeled_views(images_u, generator, views);
    if (data.unlabeled_truth.defined()) {
      out.unlabeled_truth = data.unlabeled_truth.index_select(0, pos_u);
    }
    if (data.unlabeled_is_labeled.defined()) {
      out.unlabeled_is_labeled = data.unlabeled_is_labeled.index_select(0, pos_u);
    }
  }
  out.inputs = normalize_images(at::cat(views));
  if (c_.channels_last) out.inputs = out.inputs.contiguous(at::MemoryFormat::ChannelsLast);
  finish_batch(out, generator);
  return out;
}

void SemiLearner::finish_batch(StepBatch&, at::Generator&) {}

void SemiLearner::observe_alignment(const at::Tensor& probs) {
  if (!c_.alignment) return;
  dist::World& world = dist::world();
  c_.alignment->observe(world.distributed() ? at::cat(world.all_gather(probs)) : probs);
}

EpochLine SemiLearner::evaluate(const EvaluationInput& input) {
  const auto* st = input.stats.data_ptr<double>();
  const double steps = std::max(1.0, st[kStatSteps]);
  const auto [raw, raw_la] = evaluate_on_test(c_.model, *c_.data, c_.train.eval_batch_size);
  const auto [ema, ema_la] = evaluate_on_test(c_.ema_model, *c_.data, c_.train.eval_batch_size);
  MetricsLine line;
  line.step = input.step;
  line.epoch = input.epoch;
  line.lr = input.lr;
  line.loss = st[kStatLoss] / steps;
  line.loss_x = st[kStatLossX] / steps;
  line.loss_u = st[kStatLossU] / steps;
  line.mask_rate = st[kStatMask] / steps;
  // Unknown (NaN, null in metrics.jsonl) where the unlabeled stream has no hidden labels.
  line.pseudo_label_acc = !c_.data->unlabeled_truth.defined()
                              ? std::numeric_limits<double>::quiet_NaN()
                          : st[kStatPseudoKept] > 0 ? st[kStatPseudoCorrect] / st[kStatPseudoKept]
                                                    : 0.0;
  line.acc_raw = raw.accuracy;
  line.acc_ema = ema.accuracy;
  // Undefined where the logits already carry the adjustment (ssl/losses.h): never adjusted twice.
  const bool adjust = !logits_already_adjusted(c_.train, c_.acr);
  line.acc_raw_la = adjust ? raw_la.accuracy : kUndefined;
  line.acc_ema_la = adjust ? ema_la.accuracy : kUndefined;
  line.mean_recall_ema = ema.mean_recall;
  line.per_class_recall_ema = ema.per_class.recall;
  line.per_class_recall_raw = raw.per_class.recall;
  line.steps_per_sec = input.steps_per_sec;
  return line;
}

ProgressFields SemiLearner::progress_fields(double lr, const at::Tensor& stats,
                                            const EpochLine* epoch_line) const {
  // Priorities: what the fields are dropped by when the terminal is narrow (lowest first).
  const MetricsLine* line = epoch_line != nullptr ? std::get_if<MetricsLine>(epoch_line) : nullptr;
  double loss = 0.0;
  double mask = 0.0;
  if (line != nullptr) {
    loss = line->loss;
    mask = line->mask_rate;
  } else {
    const auto* st = stats.data_ptr<double>();
    const double steps = std::max(1.0, st[kStatSteps]);
    loss = st[kStatLoss] / steps;
    mask = st[kStatMask] / steps;
  }
  ProgressFields fields = {progress_field("loss", "loss", "%.4f", loss, 5),
                           progress_field("mask", "mask", "%.3f", mask, 2),
                           progress_field("lr", "lr", "%.5f", lr, 0)};
  if (line != nullptr) {
    // "ema logit-adj": the EMA model's accuracy with logit adjustment (acc_ema_la).
    fields.push_back(progress_field("acc raw", "raw", "%.4f", line->acc_raw, 1));
    fields.push_back(progress_field("acc ema", "ema", "%.4f", line->acc_ema, 6));
    fields.push_back(progress_field("acc ema logit-adj", "logit-adj", "%.4f", line->acc_ema_la, 3));
  }
  return fields;
}

// ---- FixMatch ----------------------------------------------------------------------------------

void FixMatchLearner::unlabeled_views(const at::Tensor& images, at::Generator& generator,
                                      std::vector<at::Tensor>& views) {
  views.push_back(weak_augment(images, generator, c_.augment));
  views.push_back(strong_augment(images, generator, c_.augment));
}

StepLoss FixMatchLearner::loss(const StepBatch& input, std::int64_t) {
  const TrainConfig& t = c_.train;
  const std::int64_t batch = c_.labeled_batch;
  const std::int64_t unlabeled = c_.unlabeled_batch;
  const auto stat_options = at::TensorOptions().dtype(at::kDouble).device(c_.device);
  // One forward pass over all views: BatchNorm sees the concatenated batch, as in the
  // reference.
  at::Tensor logits;
  {
    AutocastGuard autocast(c_.bf16, c_.device);
    logits = c_.model->forward(input.inputs);
  }
  const at::Tensor logits_l = logits.narrow(0, 0, batch);
  if (unlabeled == 0) {
    const at::Tensor total = c_.labeled_loss(logits_l, input.labels);
    const at::Tensor zero = at::zeros({}, stat_options);
    return {total, at::stack({total.detach().to(at::kDouble), total.detach().to(at::kDouble), zero,
                              zero, zero, zero, at::ones({}, stat_options)})};
  }
  const at::Tensor logits_w = logits.narrow(0, batch, unlabeled);
  const at::Tensor logits_s = logits.narrow(0, batch + unlabeled, unlabeled);
  // Pseudo-labels come from the raw model's weak view, without gradient.
  const at::Tensor probs = at::softmax(logits_w.detach().to(at::kFloat), 1);
  const at::Tensor target_probs = c_.alignment ? c_.alignment->align(probs) : probs;
  FixMatchLoss loss = fixmatch_loss(logits_l, input.labels, target_probs, logits_s, t.threshold,
                                    t.lambda_u, &c_.labeled_loss);
  // p_model sees the raw probabilities after the loss, as the reference updates it (over the
  // global batch when there are several ranks, so that it stays the same on every rank).
  observe_alignment(probs);
  at::Tensor correct = loss.mask;
  if (input.unlabeled_truth.defined()) {
    correct = loss.mask * loss.pseudo_labels.eq(input.unlabeled_truth).to(at::kFloat);
  }
  return {loss.total,
          at::stack({loss.total.detach().to(at::kDouble), loss.loss_x.detach().to(at::kDouble),
                     loss.loss_u.detach().to(at::kDouble), loss.mask.mean().to(at::kDouble),
                     correct.sum().to(at::kDouble), loss.mask.sum().to(at::kDouble),
                     at::ones({}, stat_options)})};
}

// ---- MixMatch ----------------------------------------------------------------------------------

void MixMatchLearner::unlabeled_views(const at::Tensor& images, at::Generator& generator,
                                      std::vector<at::Tensor>& views) {
  // K weak views, view after view (ssl/mixmatch.h).
  for (int k = 0; k < c_.train.mixmatch_k; ++k) {
    views.push_back(weak_augment(images, generator, c_.augment));
  }
}

void MixMatchLearner::finish_batch(StepBatch& batch, at::Generator& generator) {
  const MixUpDraw mix =
      draw_mixup(batch.inputs.size(0), c_.train.mixup_alpha, generator, c_.device);
  batch.extra = {mix.perm, mix.lambda};
}

StepLoss MixMatchLearner::loss(const StepBatch& input, std::int64_t step) {
  const TrainConfig& t = c_.train;
  const auto stat_options = at::TensorOptions().dtype(at::kDouble).device(c_.device);
  // Both forwards (guess and mixed batch) in training mode, under the step's autocast, in the
  // model's memory format.
  auto forward = [&](const at::Tensor& x) {
    AutocastGuard autocast(c_.bf16, c_.device);
    return c_.model->forward(c_.channels_last ? x.contiguous(at::MemoryFormat::ChannelsLast) : x);
  };
  const double lambda_u = t.mixmatch_lambda_u * mixmatch_rampup(step, t.mixmatch_rampup_steps);
  const MixMatchLoss loss = mixmatch_loss(
      forward, input.inputs, input.labels, MixUpDraw{input.extra.at(0), input.extra.at(1)},
      t.mixmatch_k, t.mixmatch_temperature, lambda_u, c_.alignment);
  // p_model sees the raw averaged probabilities after the loss, as for FixMatch. MixUp partners
  // are drawn within a rank's share.
  observe_alignment(loss.mean_probs);
  const at::Tensor one = at::ones({}, stat_options);
  at::Tensor correct = at::zeros({}, stat_options);
  if (input.unlabeled_truth.defined()) {
    correct = loss.pseudo_labels.eq(input.unlabeled_truth).sum().to(at::kDouble);
  }
  // No mask: every unlabeled image counts (mask rate 1, U guesses kept).
  const at::Tensor kept =
      at::full({}, static_cast<double>(loss.pseudo_labels.size(0)), stat_options);
  return {loss.total,
          at::stack({loss.total.detach().to(at::kDouble), loss.loss_x.detach().to(at::kDouble),
                     loss.loss_u.detach().to(at::kDouble), one, correct, kept, one})};
}

std::unique_ptr<SemiLearner> make_semi_learner(TrainAlgorithm algorithm,
                                               SemiLearnerContext context) {
  switch (algorithm) {
    case TrainAlgorithm::kFixMatch:
      return std::make_unique<FixMatchLearner>(std::move(context));
    case TrainAlgorithm::kMixMatch:
      return std::make_unique<MixMatchLearner>(std::move(context));
    case TrainAlgorithm::kAcr:
      return std::make_unique<AcrLearner>(std::move(context));
    case TrainAlgorithm::kSemi:
      return std::make_unique<SeMiLearner>(std::move(context));
    case TrainAlgorithm::kDaso:
      return std::make_unique<DasoLearner>(std::move(context));
    case TrainAlgorithm::kDmlpl:
      return std::make_unique<DmlplLearner>(std::move(context));
  }
  throw std::logic_error("make_semi_learner: unknown train.algorithm");
}

}  // namespace crest
