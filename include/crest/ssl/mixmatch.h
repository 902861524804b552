// The pieces of one MixMatch step (train.algorithm=mixmatch) that are pure arithmetic: label
// guessing, sharpening, MixUp, the two losses and the ramp-up of the unlabeled weight. The
// trainer (ssl/trainer.cpp) draws the batch and composes them.
//
// Sources: Berthelot et al., "MixMatch: A Holistic Approach to Semi-Supervised Learning"
// (NeurIPS 2019), Algorithm 1 and eqs. 2-5 ("the paper" below); the CReST reference release
// (google-research/crest mixmatch.py, util/semisup.py pseudo_target_fn and get_unsup_loss with
// unsup_loss_type 'mse' and the 'full' divisor), which this follows where the two differ
// (docs/methods.md lists the differences).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>

#include "crest/ssl/alignment.h"

namespace crest {

// Sharpen (the paper's eq. 7): q_c = p_c^(1/T) / sum_j p_j^(1/T), row by row. `probs` float
// [N, C], rows summing to 1; T in (0, 1] (T = 1 returns the rows renormalised). Finite for every
// T > 0: a row whose powers underflow (sum below the smallest normal float, e.g. T = 1e-9) is
// computed as softmax((log p - max log p) / T) instead, in double (the limit: uniform over the
// row's largest entries); other rows are the reference's arithmetic bit for bit.
at::Tensor sharpen(const at::Tensor& probs, double T);

// The guess for U unlabeled images from K weak views of each (the paper's eqs. 6-7; reference
// pseudo_target_fn on a list of logits).
struct MixMatchGuess {
  at::Tensor mean_probs;  // float [U, C]: softmax averaged over the K views (p_model observes it)
  at::Tensor targets;     // float [U, C]: sharpen(align(mean_probs), T)
};

// `logits` [K * U, C] are view-major: rows k * U .. (k + 1) * U - 1 are view k of the U images
// (any floating dtype; computed in float32, no gradient). With `alignment` (CReST+; may be a
// null holder) the averaged probabilities are aligned before sharpening, as the reference
// aligns the average, not each view.
MixMatchGuess mixmatch_guess(const at::Tensor& logits, std::int64_t K, double T,
                             const DistributionAligner& alignment);

// One MixUp draw for N rows: a partner permutation and the weights lambda' (the paper's
// eqs. 8-11; reference get_mixed_data).
struct MixUpDraw {
  at::Tensor perm;    // int64 [N]: row i is mixed with row perm[i]
  at::Tensor lambda;  // float [N]: lambda' = max(lambda, 1 - lambda), lambda ~ Beta(alpha, alpha)
};

// Draws from `generator` on `device` (its state is checkpointed, so a resume draws the same):
// the permutation with randperm, Beta(alpha, alpha) as G1 / (G1 + G2) with G1, G2 ~
// Gamma(alpha, 1). alpha > 0.
MixUpDraw draw_mixup(std::int64_t N, double alpha, at::Generator& generator, at::Device device);

// lambda'_i x_i + (1 - lambda'_i) x_{perm_i} for every row i of `x` [N, ...] (images or label
// distributions), computed in float32. `perm` int64 [N], `lambda` float [N].
at::Tensor mixup(const at::Tensor& x, const at::Tensor& perm, const at::Tensor& lambda);

// Soft-target cross-entropy, mean over rows: mean_i -sum_c targets_ic log softmax(logits_i)_c
// (the paper's L_X, eq. 3; reference: categorical_crossentropy from logits). `logits` [N, C]
// (float32 arithmetic), `targets` float [N, C].
at::Tensor soft_cross_entropy(const at::Tensor& logits, const at::Tensor& targets);

// Squared error between softmax(logits) and the targets, mean over rows and classes:
// 1 / (N C) sum_i ||targets_i - softmax(logits_i)||^2 (the paper's L_U, eq. 4; reference
// unsup_loss_type 'mse' with the 'full' divisor). `logits` [N, C], `targets` float [N, C].
at::Tensor probability_mse(const at::Tensor& logits, const at::Tensor& targets);

// The fraction of lambda_u applied at `step` (0-based, counted within the generation): step /
// rampup_steps, capped at 1 (the paper's linear ramp-up over 16,000 steps); 1 for
// rampup_steps = 0 (the reference release has no ramp-up).
double mixmatch_rampup(std::int64_t step, std::int64_t rampup_steps);

struct MixMatchLoss {
  at::Tensor total;          // loss_x + lambda_u * loss_u (weight decay lives in the optimiser)
  at::Tensor loss_x;         // soft CE over the B labeled rows of the mixed batch
  at::Tensor loss_u;         // probability MSE over the K * U unlabeled rows
  at::Tensor mean_probs;     // float [U, C]: the raw averaged guess (for p_model)
  at::Tensor pseudo_labels;  // int64 [U]: argmax of the sharpened guess
};

// The MixMatch loss (reference mixmatch.py step_fn, without weight decay) on `inputs` float
// [B + K * U, 3, H, W] (the labeled weak view, then K weak views of the U unlabeled images, view
// after view, normalised), `labels` int64 [B] and `mix` drawn over all B + K * U rows:
//   guess from forward(unlabeled rows) under no_grad (mixmatch_guess; BatchNorm as `forward`
//   leaves it, training mode in the trainer), P = [one_hot(labels); targets repeated K times],
//   Xmix, Pmix = mixup([inputs, P]); logits = forward(Xmix);
//   loss_x = soft_cross_entropy(logits[:B], Pmix[:B]), loss_u = probability_mse(logits[B:],
//   Pmix[B:]), total = loss_x + lambda_u * loss_u.
// `forward` maps a normalised float batch to logits [N, C] (the caller applies autocast and the
// memory format). `alignment` may be a null holder; it is read, not updated.
MixMatchLoss mixmatch_loss(const std::function<at::Tensor(const at::Tensor&)>& forward,
                           const at::Tensor& inputs, const at::Tensor& labels, const MixUpDraw& mix,
                           std::int64_t K, double T, double lambda_u,
                           const DistributionAligner& alignment);

}  // namespace crest
