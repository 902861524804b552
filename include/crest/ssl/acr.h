// ACR, the adaptive consistency regulariser (Wei and Gan, "Towards Realistic Long-Tailed
// Semi-Supervised Learning: Consistency Is All You Need", CVPR 2023), as its code computes it
// (Gank0078/ACR, train.py; line numbers below are of that file). Two heads on one backbone
// (models/wrn.h: fc, fc_balanced); the balanced head is the one evaluated. The pure arithmetic of
// one step and the estimate of the unlabeled class distribution; the learner
// (ssl/semi_learners.h, AcrLearner) draws the views and composes them. docs/methods.md lists each
// part with its line and where crest departs from the code.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "crest/config/choices.h"
#include "crest/ssl/losses.h"

namespace crest {

// log(p^tau + 1e-12) per class: the logit adjustment of strength `tau` for the class
// distribution `p` (train.py compute_adjustment_by_py, l. 123). `p` float64 [C]; returns float64
// [C]; `tau` a double or a 0-dim tensor (any float dtype).
at::Tensor acr_adjustment(const at::Tensor& p, const at::Tensor& tau);

// The logits of one step, each head split by view: labeled weak [B, C], unlabeled weak [U, C],
// first strong [U, C] and second strong [U, C] (train.py l. 505-520).
struct AcrLogits {
  at::Tensor x, u_weak, u_strong1, u_strong2;          // standard head (fc)
  at::Tensor x_b, u_weak_b, u_strong1_b, u_strong2_b;  // balanced head (fc_balanced)
};

// The adjustments of one step, float64 [C] each: adjustment_l1 (the adaptive one, tau from the
// estimate), adjustment_l12 (acr.tau12) and adjustment_l2 (acr.tau2).
struct AcrAdjustments {
  at::Tensor l1, l12, l2;
};

struct AcrLoss {
  at::Tensor total;          // float scalar: loss_x + loss_x_b + lambda_u * (loss_u + loss_u_b)
  at::Tensor loss_x;         // standard head: labeled loss (train.labeled_loss; ce = the reference)
  at::Tensor loss_xb;        // balanced head: mean CE(z_b + adjustment_l2, y)
  at::Tensor loss_u;         // standard head on both strong views (mask_ss_t, targets_u)
  at::Tensor loss_ub;        // balanced head on both strong views (mask_ss_b_h2, targets_u_h2)
  at::Tensor mask;           // float [U]: mask_ss_t, the weak images whose targets_u train fc
  at::Tensor pseudo_labels;  // int64 [U]: targets_u
  at::Tensor targets_b;      // int64 [U]: argmax of the balanced head's weak probabilities
  at::Tensor mask_b;         // float [U]: their maximum >= threshold (the estimate counts these)
};

// The loss of train.py l. 512-577, computed as the code does (float64 where its float64
// adjustments promote the arithmetic, float32 elsewhere; the total is returned in float32):
//   p     = softmax((u_weak - l1) / T)       targets_u, mask = max p >= threshold
//   p_h2  = softmax((u_weak - l12) / T)      targets_u_h2, mask_h2
//   p_b   = softmax(u_weak_b / T)            targets_b, mask_b
//   p_t   = softmax(u_weak / T)              mask_t
//   mask_ss_t = mask or mask_t,   mask_ss_b_h2 = mask_b or mask_h2
//   loss_x  = labeled(x, y)                  (the reference: mean CE)
//   loss_xb = mean CE(x_b + l2, y)
//   loss_u  = mean over both strong views of CE(u_strong, targets_u) * mask_ss_t
//   loss_ub = mean over both strong views of CE(u_strong_b, targets_u_h2) * mask_ss_b_h2
// `aligned` (CReST+, may be undefined) replaces p by the aligned distribution (float [U, C]) of
// p: crest's choice, the reference has no alignment. With U = 0 (no unlabeled batch) the
// unlabeled terms are 0 and the per-image tensors empty. Logits may be bf16 (read as float32).
AcrLoss acr_loss(const AcrLogits& logits, const at::Tensor& labels, const AcrAdjustments& adj,
                 double threshold, double temperature, double lambda_u,
                 const LabeledLossFn& labeled,
                 const std::function<at::Tensor(const at::Tensor&)>& align = nullptr);

// The class counts of one step's confident balanced-head predictions (train.py l. 560), float
// [C]: reference (the code's `now_mask[targets_u_b] += mask_b`, which PyTorch computes as one
// write per class, the last image of that class winning: class c gets mask_b of the last image
// predicted c, 1 or 0) | histogram (the number of confident images predicted c, what the paper
// describes). `targets_b` int64 [N], `mask_b` float [N].
at::Tensor acr_class_counts(const at::Tensor& targets_b, const at::Tensor& mask_b, int num_classes,
                            AcrClassCount rule);

// The estimate of the unlabeled class distribution and the adaptive tau (train.py l. 346-357,
// 397, 467-474, 559-571), as a module so that checkpoints carry it. Buffers:
//   u_py           float32 [C]: the estimate, uniform at the start (l. 397)
//   count_kl       float32 [3]: this epoch's summed symmetric KL divergences of u_py from the
//                  consistent (labeled), uniform and reversed distributions (l. 566-571)
//   adjustment_l1  float64 [C]: log(py_con^tau + 1e-12), tau from the last epoch start
//   tau            float64 [1]: that tau (acr.tau1 until the first estimate)
class AcrEstimateImpl : public torch::nn::Module {
 public:
  // `py_con` the labeled class distribution [C] (normalised; every entry > 0 for finite KLs),
  // `tau_max` acr.tau1, `ema_u` acr.ema_u. InputError for an empty distribution.
  AcrEstimateImpl(const std::vector<double>& py_con, double tau_max, double ema_u,
                  AcrClassCount rule, at::Device device);

  // At the start of an epoch past acr.est_epoch (l. 467-472): tau = tau_max * softmax(count_kl /
  // steps)[0], adjustment_l1 from it unless tau is NaN (then both stay). Then (every epoch,
  // l. 474) count_kl = 0: call with update = false for the epochs before the estimate starts.
  void start_epoch(std::int64_t steps_per_epoch, bool update);
  // One step's confident balanced-head predictions (every rank's, gathered): u_py moves toward
  // their normalised counts when there are any, and count_kl accumulates the three divergences.
  // No host synchronisation.
  void observe(const at::Tensor& targets_b, const at::Tensor& mask_b);

  const at::Tensor& py_con() const { return py_con_; }  // float64 [C]
  const at::Tensor& adjustment_l1() const { return adjustment_l1_; }
  const at::Tensor& u_py() const { return u_py_; }
  const at::Tensor& tau() const { return tau_; }

 private:
  double tau_max_;
  double ema_u_;
  AcrClassCount rule_;
  at::Tensor py_con_, py_uni_, py_rev_;  // the three anchors [C] (not state)
  at::Tensor u_py_, count_kl_, adjustment_l1_, tau_;
};
TORCH_MODULE(AcrEstimate);

// 0.5 KL(p || q) + 0.5 KL(q || p), as the code's two nn.KLDivLoss(reduction='sum') calls (l.
// 566-568): float64 scalar for float64 `q` [C] and float32 `p` [C].
at::Tensor acr_symmetric_kl(const at::Tensor& q, const at::Tensor& p);

}  // namespace crest
