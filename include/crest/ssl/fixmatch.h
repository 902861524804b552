// The pieces of one FixMatch step that are pure arithmetic: the learning-rate schedule, the
// loss on given logits, and the per-step statistics. The trainer composes them.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "crest/ssl/losses.h"

namespace crest {

// The reference's "halfcos" schedule: lr_k = base * cos(pi * k / K * level / 16), k = 0..K-1.
// level 1 is what the CReST runs use (decays to base * cos(pi/16)); 7 is FixMatch's; 0 keeps
// the rate constant.
double halfcos_lr(double base_lr, std::int64_t step, std::int64_t total_steps, double level);

struct FixMatchLoss {
  at::Tensor total;          // loss_x + lambda_u * loss_u (weight decay lives in the optimiser)
  at::Tensor loss_x;         // mean cross-entropy on the labeled weak view
  at::Tensor loss_u;         // sum over kept images of CE(strong, pseudo) / unlabeled batch size
  at::Tensor mask;           // float [U]: 1 where max probability >= threshold
  at::Tensor pseudo_labels;  // int64 [U]: argmax of the (aligned) weak-view probabilities
};

// FixMatch's loss (Sohn et al. 2020; CReST reference fixmatch.py):
//   loss_x = mean_b CE(logits_x[b], labels[b])
//   q = probs_weak (softmax of the raw model's weak-view logits, aligned for CReST+, no grad)
//   mask = max(q) >= threshold, pseudo = argmax(q)
//   loss_u = sum_u mask[u] * CE(logits_strong[u], pseudo[u]) / U   (U = whole unlabeled batch)
// `probs_weak` must not require grad. Computed in float32 whatever the logits' dtype.
// `labeled` replaces the cross-entropy of loss_x (train.labeled_loss, ssl/losses.h); null = CE.
FixMatchLoss fixmatch_loss(const at::Tensor& logits_x, const at::Tensor& labels_x,
                           const at::Tensor& probs_weak, const at::Tensor& logits_strong,
                           double threshold, double lambda_u,
                           const LabeledLossFn* labeled = nullptr);

}  // namespace crest
