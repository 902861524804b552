// The loss on the labeled batch (train.labeled_loss): plain cross-entropy, the class-balanced
// losses of Cui et al., "Class-Balanced Loss Based on Effective Number of Samples" (CVPR 2019;
// their TF release, class-balanced-loss/src/cifar_main.py), and the logit-adjusted loss of
// Menon et al., "Long-tail learning via logit adjustment" (ICLR 2021, eq. 10).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "crest/config/config.h"

namespace crest {

// w_y = (1 - beta) / (1 - beta^n_y) per class, normalised so the weights sum to the number of
// classes (Cui et al. eq. 3 and their normalisation). A class with n_y = 0 gets weight 0 (its
// effective number is 0; no labeled example of it can carry the weight). beta = 0 gives 1 for
// every class with examples. Throws InputError for beta outside [0, 1) or no examples at all.
std::vector<double> class_balanced_weights(const std::vector<std::int64_t>& counts, double beta);

struct LabeledLossFn {
  LabeledLoss kind = LabeledLoss::kCe;
  at::Tensor class_weights;  // float [C] (cb_*)
  at::Tensor log_prior;      // float [C]: tau * log(prior) (logit_adjusted)
  double focal_gamma = 1.0;

  // The loss of `logits` float [B, C] against `labels` int64 [B], a scalar, in float32:
  //   ce:             mean_b CE(z_b, y_b)
  //   cb_softmax:     mean_b w_{y_b} CE(z_b, y_b)
  //   cb_sigmoid:     sum_{b,c} w_{y_b} BCE(z_bc, [c = y_b]) / B   (one-vs-all targets)
  //   cb_focal:       sum_{b,c} w_{y_b} (1 - p_t)^gamma BCE(z_bc, [c = y_b]) / B, where p_t is
  //                   the sigmoid probability of the target (p for c = y_b, 1 - p otherwise)
  //   logit_adjusted: mean_b CE(z_b + tau log pi, y_b)
  at::Tensor operator()(const at::Tensor& logits, const at::Tensor& labels) const;
};

// The loss `train` configures for a labeled set with `counts` per class (pseudo-labels
// included), its tensors on `device`.
LabeledLossFn make_labeled_loss(const TrainConfig& train, const std::vector<std::int64_t>& counts,
                                at::Device device);

// Whether `loss` scores every class with its own sigmoid (cb_sigmoid, cb_focal). For these Cui et
// al. start the classifier bias at the prior, sigmoid_prior_bias, and leave that bias out of the
// weight decay (class-balanced-loss: src/model_base.py _fully_connected, src/cifar_main.py
// _tower_fn); crest's GenerationTrainer does both (ssl/trainer.h).
bool is_sigmoid_loss(LabeledLoss loss);

// The bias b = -log((1 - pi) / pi) with pi = 1 / C, i.e. -log(C - 1), at which every one of
// the C sigmoids starts at probability 1 / C: with zero weights the first sigmoid loss is
// log C + (C - 1) log(C / (C - 1)) per image (3.2508 for C = 10) instead of C log 2 (6.9315)
// at b = 0. num_classes >= 2, else InputError.
double sigmoid_prior_bias(int num_classes);

// Whether the logits of the model a run evaluates already carry the logit adjustment, so that
// the post-hoc adjustment (metrics' logit_adjust: acc_raw_la, acc_ema_la in metrics.jsonl,
// `crest evaluate --logit-adjust`) would subtract the prior a second time. True for
// train.labeled_loss logit_adjusted with la_tau > 0 (Menon et al. eq. 10 trains z + tau log pi,
// so argmax z is already the balanced prediction); false for ce and the class-balanced
// re-weightings (cb_*), which re-weight the loss but do not shift the logits. Runs for which it
// holds report the adjusted figures as undefined (null in JSON, n/a for people) and `crest
// evaluate --logit-adjust` refuses them. The one place of this rule: a learner whose evaluated
// head is trained with an adjusted loss adds its case here. ACR's and SeMi's evaluated head
// (fc_balanced) is trained with CE(z + tau2 log pi, y): adjusted when acr.tau2 > 0.
bool logits_already_adjusted(const TrainConfig& train, const AcrConfig& acr);

}  // namespace crest
