// The semi-supervised learners inside a CReST generation (train.algorithm), on one labeled and
// one unlabeled stream of the generation's images:
//   FixMatchLearner  Sohn et al. 2020 as the CReST reference's fixmatch.py: one forward over the
//                    labeled weak, unlabeled weak and unlabeled strong views; the weak view's
//                    (CReST+: aligned) confident predictions are the strong view's targets
//                    (ssl/fixmatch.h). Capturable as a CUDA graph.
//   MixMatchLearner  Berthelot et al. 2019 as the reference's mixmatch.py: K weak views, the
//                    sharpened average guess, MixUp, soft CE + lambda_u * MSE (ssl/mixmatch.h).
//                    A fresh MixUp draw each step: always eager.
// Both evaluate the raw and the EMA model on the test set, plain and logit-adjusted, and report
// the same statistics (MetricsLine, io/training_files.h).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crest/augment/augment.h"
#include "crest/config/config.h"
#include "crest/metrics/metrics.h"
#include "crest/models/wrn.h"
#include "crest/ssl/acr.h"
#include "crest/ssl/alignment.h"
#include "crest/ssl/daso.h"
#include "crest/ssl/learner.h"
#include "crest/ssl/losses.h"
#include "crest/ssl/mixmatch.h"
#include "crest/ssl/sampler.h"
#include "crest/ssl/semi_mining.h"

namespace crest {

// Everything a generation trains and evaluates on, resident on the training device.
struct TrainingData {
  at::Tensor images;           // uint8 [N, 3, H, W]: every image the generation touches
  at::Tensor labeled_index;    // int64 [L]: positions in `images` of the labeled set
  at::Tensor labeled_targets;  // int64 [L]: their labels (true, or pseudo for CReST)
  at::Tensor unlabeled_index;  // int64 [U]: positions of the unlabeled stream
  at::Tensor unlabeled_truth;  // int64 [U]: true labels of that stream, for monitoring only
  at::Tensor test_images;      // uint8 [T, 3, H, W]
  at::Tensor test_labels;      // int64 [T]
  // bool [U]: the unlabeled stream's images that are in the split's labeled set too
  // (data.protocol acr: the reference's -2 targets, which ACR's estimate skips); else undefined.
  at::Tensor unlabeled_is_labeled;
  std::vector<std::string> class_names;
  std::vector<double> class_prior;  // labeled class distribution (logit adjustment)
};

// What a semi-supervised learner computes with: the generation's models (built and owned by the
// trainer), data and settings.
struct SemiLearnerContext {
  TrainConfig train;
  AcrConfig acr;      // train.algorithm acr (semi reads tau12, tau2, temperature)
  SemiConfig semi;    // train.algorithm semi
  DasoConfig daso;    // train.algorithm daso
  DmlplConfig dmlpl;  // train.algorithm dmlpl
  at::Device device = at::kCPU;
  WideResNet model{nullptr};      // the raw model, trained
  WideResNet ema_model{nullptr};  // its EMA, evaluated
  const TrainingData* data = nullptr;
  DistributionAligner alignment{nullptr};  // CReST+ (null: no alignment)
  LabeledLossFn labeled_loss;              // train.labeled_loss with the generation's counts
  AugmentOptions augment;
  bool bf16 = false;                 // the step under bf16 autocast
  bool channels_last = false;        // the model's memory format
  std::int64_t labeled_batch = 0;    // this rank's share of train.batch_size
  std::int64_t unlabeled_batch = 0;  // and of batch_size * unlabeled_ratio (0: supervised)
};

// The statistics both report, summed on the device between evaluations.
enum SemiStat : int {
  kStatLoss,
  kStatLossX,
  kStatLossU,
  kStatMask,
  kStatPseudoCorrect,  // kept pseudo-labels that match the hidden true label
  kStatPseudoKept,
  kStatSteps,
  kSemiStatCount
};

// Sampling, the statistics and the evaluation FixMatch and MixMatch share; they differ in the
// unlabeled views they draw and in their loss.
class SemiLearner : public Learner {
 public:
  explicit SemiLearner(SemiLearnerContext context);
  int stat_count() const override { return kSemiStatCount; }
  // labeled_sampler, unlabeled_sampler (both per rank) and alignment.
  void register_state(StateTree& tree) override;
  // The labeled weak view, then unlabeled_views() of the unlabeled images.
  StepBatch draw_batch(at::Generator& generator) override;
  EpochLine evaluate(const EvaluationInput& input) override;
  ProgressFields progress_fields(double lr, const at::Tensor& stats,
                                 const EpochLine* line) const override;
  // The views drawn of each unlabeled image (FixMatch: weak and strong; MixMatch: K weak).
  virtual int unlabeled_view_count() const = 0;

 protected:
  // Appends the unlabeled views of `images` (uint8 [U, 3, H, W]) to `views`.
  virtual void unlabeled_views(const at::Tensor& images, at::Generator& generator,
                               std::vector<at::Tensor>& views) = 0;
  // After the views are normalised into batch.inputs (MixMatch draws its MixUp here).
  virtual void finish_batch(StepBatch& batch, at::Generator& generator);
  // p_model of CReST+'s alignment sees `probs` of every rank (the same p_model everywhere).
  void observe_alignment(const at::Tensor& probs);

  SemiLearnerContext c_;
  IndexSampler labeled_stream_{nullptr};
  IndexSampler unlabeled_stream_{nullptr};  // null without unlabeled data
};

class FixMatchLearner final : public SemiLearner {
 public:
  using SemiLearner::SemiLearner;
  StepLoss loss(const StepBatch& batch, std::int64_t step) override;
  bool graph_capturable() const override { return true; }
  int unlabeled_view_count() const override { return 2; }

 protected:
  void unlabeled_views(const at::Tensor& images, at::Generator& generator,
                       std::vector<at::Tensor>& views) override;
};

class MixMatchLearner final : public SemiLearner {
 public:
  using SemiLearner::SemiLearner;
  StepLoss loss(const StepBatch& batch, std::int64_t step) override;
  bool graph_capturable() const override { return false; }
  int unlabeled_view_count() const override { return c_.train.mixmatch_k; }

 protected:
  void unlabeled_views(const at::Tensor& images, at::Generator& generator,
                       std::vector<at::Tensor>& views) override;
  void finish_batch(StepBatch& batch, at::Generator& generator) override;
};

// ACR (Wei and Gan, CVPR 2023; ssl/acr.h) as Gank0078/ACR train.py: a weak and two strong views
// of each unlabeled image, one forward through the backbone and both heads, the adaptive
// consistency loss, and the estimate of the unlabeled class distribution, whose tau changes at
// epoch starts (so always eager). The balanced head is the one evaluated and pseudo-labels
// CReST's selection (forward(), models/wrn.h).
class AcrLearner final : public SemiLearner {
 public:
  explicit AcrLearner(SemiLearnerContext context);
  // The samplers and alignment, then the estimate (module "acr": u_py, count_kl, adjustment_l1,
  // tau; the same on every rank).
  void register_state(StateTree& tree) override;
  StepLoss loss(const StepBatch& batch, std::int64_t step) override;
  // SemiLearner's record plus acr_tau (the epoch's adaptive tau) and acr_u_py (the estimate).
  EpochLine evaluate(const EvaluationInput& input) override;
  bool graph_capturable() const override { return false; }
  int unlabeled_view_count() const override { return 3; }

 protected:
  void unlabeled_views(const at::Tensor& images, at::Generator& generator,
                       std::vector<at::Tensor>& views) override;

 private:
  AcrEstimate estimate_{nullptr};
  at::Tensor adjustment_l12_;  // float64 [C]: log(p_l^tau12 + 1e-12)
  at::Tensor adjustment_l2_;   // float64 [C]: log(p_l^tau2 + 1e-12)
};

// SeMi (Wang et al. 2025; ssl/semi_mining.h) as pywin/SeMi train_semi.py: ACR's two heads and
// views with fixed adjustments (tau12, tau2; no adaptive tau), the prototype blend of the
// pseudo-labels from a class-balanced memory bank of confident strong-view features, entropy
// weights of the unlabeled loss (hard-example mining) and feature consistency on unconfident
// images, docs/methods.md ("SeMi") step by step. The balanced head is evaluated. Always eager
// (collectives and the bank's host-side insertion inside the step).
class SeMiLearner final : public SemiLearner {
 public:
  explicit SeMiLearner(SemiLearnerContext context);
  // The samplers and alignment, then "semi_bank" (the memory bank) and the buffers
  // semi_center [1, D], semi_label_counts [C], semi_class_weight [C] (the same on every rank).
  void register_state(StateTree& tree) override;
  StepLoss loss(const StepBatch& batch, std::int64_t step) override;
  // loss() after its forward pass, from the network's outputs for the batch's views in order
  // (labeled weak, unlabeled weak, strong, second strong): `features` float [B + 3U, D] (the
  // pooled features), `logits` and `logits_b` float [B + 3U, C] (standard and balanced head).
  // Public so that a test can feed fixed outputs (tests/unit/ssl/semi_learner_test.cpp).
  StepLoss loss_from_outputs(const at::Tensor& features, const at::Tensor& logits,
                             const at::Tensor& logits_b, const StepBatch& batch, std::int64_t step);
  bool graph_capturable() const override { return false; }
  int unlabeled_view_count() const override { return 3; }

 protected:
  void unlabeled_views(const at::Tensor& images, at::Generator& generator,
                       std::vector<at::Tensor>& views) override;

 private:
  // The blended pseudo-labels of the weak view (steps 2-3 of the spec).
  at::Tensor pseudo_labels(const at::Tensor& logits_weak, const at::Tensor& strong_features,
                           std::int64_t step);
  // Steps 6, 7 and 12: the class counts and weights, the bank's insertion and decay.
  void update_state(const SemiViewFeatures& views, const SemiTargets& targets,
                    const at::Tensor& probs, std::int64_t step);

  SemiMemoryBank bank_{nullptr};
  at::Tensor center_;        // float [1, D]: running mean of the consistency teacher
  at::Tensor label_counts_;  // float [C]: confident pseudo-labels per class since the start
  at::Tensor class_weight_;  // float [C]: their normalised frequency, refreshed each epoch
  at::Tensor adjustment_l12_, adjustment_l2_;  // float64 [C]
};

// DASO (Oh, Kim and Kweon, CVPR 2022; ssl/daso.h) as ytaek-oh/daso's DASOModel with FixMatch:
// the labeled weak view's EMA-model features (BatchNorm in training mode, as the reference's EMA
// model runs) fill a class-wise queue whose means are the prototypes; after daso.warmup_steps the
// weak view's linear pseudo-label is blended with its semantic one (cosine similarity to the
// prototypes) by the pseudo-label distribution of the last period, and the strong view's
// similarities are aligned with the weak view's. One linear head, the one evaluated and the one
// that pseudo-labels CReST's selection. docs/methods.md ("DASO") gives the step in order. Always
// eager (the queue is updated on the host inside the step).
class DasoLearner final : public SemiLearner {
 public:
  explicit DasoLearner(SemiLearnerContext context);
  // The samplers and alignment, then "daso_queue" (memory, size, prototypes) and the buffers
  // daso_period_counts [C] (this period's pseudo-labels per class) and daso_pl_counts [C] (the
  // last full period's), int64, the same on every rank.
  void register_state(StateTree& tree) override;
  StepLoss loss(const StepBatch& batch, std::int64_t step) override;
  // loss() after its forward passes: `queue_features` float [B, D] (the EMA model's features of
  // the labeled weak view), `features` float [B + 2U, D] and `logits` float [B + 2U, C] (the
  // model's, for the labeled weak, unlabeled weak and strong views in order). Public so that a
  // test can feed fixed outputs (tests/unit/ssl/daso_learner_test.cpp).
  StepLoss loss_from_outputs(const at::Tensor& queue_features, const at::Tensor& features,
                             const at::Tensor& logits, const StepBatch& batch, std::int64_t step);
  // SemiLearner's record plus daso_blend_weights (v [C], once a period has ended).
  EpochLine evaluate(const EvaluationInput& input) override;
  bool graph_capturable() const override { return false; }
  int unlabeled_view_count() const override { return 2; }
  const DasoQueue& queue() const { return queue_; }
  const at::Tensor& pl_counts() const { return pl_counts_; }

 protected:
  void unlabeled_views(const at::Tensor& images, at::Generator& generator,
                       std::vector<at::Tensor>& views) override;

 private:
  // The final pseudo-labels of the step counted; the distribution refreshed at a period's end.
  void count_pseudo_labels(const at::Tensor& probs, std::int64_t step);

  DasoQueue queue_{nullptr};
  at::Tensor period_counts_;  // int64 [C]: final pseudo-labels per class since the period began
  at::Tensor pl_counts_;      // int64 [C]: those of the last full period (the blend's m)
};

// The statistic DmlplLearner adds after SemiStat's: the metric loss (unweighted), summed.
constexpr int kStatDmlplMetric = kSemiStatCount;

// DML-PL's learner (train.algorithm dmlpl; Yan, Hui and Li, Information Sciences 626, 2023; no
// public code, so crest's design, docs/methods.md "DML-PL: the learner"): FixMatchLearner's views
// and loss (CReST+'s alignment, train.labeled_loss, threshold, lambda_u), plus
// dmlpl.metric_weight x the metric loss (ssl/metric_losses.h, dmlpl.metric_loss) on the unit-length
// embeddings (fc_embedding, WideResNetImpl::embed) of the labeled weak view with the batch's
// labels: the labeled set, which in a CReST generation holds the pseudo-labeled images too. One
// forward over every view: features, then the classifier on all rows and the embedding head on
// the labeled rows. The standard head is the one evaluated and the one that pseudo-labels CReST's
// confidence selection. Capturable as a CUDA graph (no host synchronisation in the step).
class DmlplLearner final : public SemiLearner {
 public:
  using SemiLearner::SemiLearner;
  // SemiStat's figures (loss = loss_x + loss_u + metric_weight x metric loss, loss_u = lambda_u x
  // FixMatch's unlabeled loss), then kStatDmlplMetric.
  int stat_count() const override { return kSemiStatCount + 1; }
  StepLoss loss(const StepBatch& batch, std::int64_t step) override;
  // loss() after its forward pass: `logits` float [B + 2U, C] (labeled weak, unlabeled weak,
  // strong views in order) and `embeddings` float [B, embedding_dim] (the labeled weak view's,
  // unit length). Public so that a test can feed fixed outputs.
  StepLoss loss_from_outputs(const at::Tensor& logits, const at::Tensor& embeddings,
                             const StepBatch& batch);
  // SemiLearner's record plus dmlpl_metric_loss ({mean metric loss since the last evaluation}).
  EpochLine evaluate(const EvaluationInput& input) override;
  bool graph_capturable() const override { return true; }
  int unlabeled_view_count() const override { return 2; }

 protected:
  void unlabeled_views(const at::Tensor& images, at::Generator& generator,
                       std::vector<at::Tensor>& views) override;
};

// The learner of train.algorithm.
std::unique_ptr<SemiLearner> make_semi_learner(TrainAlgorithm algorithm,
                                               SemiLearnerContext context);

// Raw and logit-adjusted (by data.class_prior) evaluation of `net` on the test set from one fp32
// forward pass, sharded over the ranks and gathered (collective in a multi-rank run).
std::pair<Evaluation, Evaluation> evaluate_on_test(WideResNet& net, const TrainingData& data,
                                                   int eval_batch_size);

}  // namespace crest
