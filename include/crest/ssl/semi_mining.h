// The arithmetic of SeMi (Wang et al. 2025, "SeMi: When Imbalanced Semi-Supervised Learning
// Meets Mining Hard Examples"), as its code pywin/SeMi train_semi.py computes it on top of ACR's
// dual-head step: entropy weights of the unlabeled loss (hard-example mining), a class-balanced
// memory bank of confident features with confidence decay, prototype probabilities blended into
// the pseudo-labels with a per-class strength, and a feature-consistency term on unconfident
// samples. Pure functions on tensors plus the bank (a module of buffers, so checkpoints carry
// it); the learner composes them (docs/methods.md, "SeMi (train.algorithm: semi)", gives the
// step in order). Each function keeps the reference's order of operations and dtypes (float32
// features and probabilities, float64 where a float64 logit adjustment enters), so
// tests/unit/ssl/semi_mining_test.cpp matches tests/fixtures/semi_reference.py (a transcription of
// the reference) to 1e-6. "ref" lines below are pywin/SeMi at commit 32e3a71.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace crest {

// The rows of the concatenated features [x; u_w; u_s; u_s1] (float [4 B, D], B labeled = B
// unlabeled images) that the reference uses as the weak, strong and second strong view's
// features. The reference slices the features of its interleaved batch without de-interleaving
// them (ref train_semi.py:541-550; only the logits are de-interleaved, 553), so with
// `reference_rows` its "weak" row i is concatenated row 4 i + 1, "strong" 4 i + 2 and "strong1"
// 4 i + 3: features of other images (labeled, weak or strong views) than the unlabeled sample i
// whose pseudo-label they are paired with. Without `reference_rows`: rows B + i, 2 B + i,
// 3 B + i (the views of sample i). Each result float [B, D] (views, no copy).
// std::invalid_argument unless features is [4 B, D].
struct SemiViewFeatures {
  at::Tensor weak;
  at::Tensor strong;
  at::Tensor strong1;
};
SemiViewFeatures semi_view_features(const at::Tensor& features, std::int64_t batch,
                                    bool reference_rows);

// log(prior^tau + 1e-12) (ref train_semi.py:124-127), float64 [C] for the float64 class prior
// [C] (the labeled class frequencies, train_semi.py:50-63): ACR's logit adjustment. The
// reference adds it to the balanced head's labeled logits with tau2 = 2 (565) and subtracts it
// from the standard head's weak logits with tau12 = 2 for the balanced head's targets (579);
// both promote to float64.
at::Tensor semi_logit_adjustment(const at::Tensor& prior, double tau);

// softmax(-||f - P_c||_2 / T) over the classes (ref utils_sup/utils.py:435-441 with
// norm=False, as train_semi.py:575 calls it with T = --tau_tar): `features` float [N, D]
// (unnormalised), `prototypes` float [C, D] (SemiMemoryBank::prototypes()) -> float [N, C].
// Distances by at::cdist (its matrix-product form when N or C > 25, as the reference).
at::Tensor semi_prototype_probs(const at::Tensor& features, const at::Tensor& prototypes,
                                double temperature);

// The blended pseudo-label (ref train_semi.py:576):
//   p~[i, c] = (1 - alpha ramp w[c]) p[i, c] + alpha ramp w[c] q[i, c],   ramp = epoch / n,
// with n the steps per epoch (--eval_step: the reference divides the epoch index by it), w
// (float [C]) the confident-class frequency (semi_class_frequency) and q the prototype
// probabilities. `probs`, `proto_probs` float [N, C] -> float [N, C]; the rows need not sum
// to 1 (per-class strengths), as in the reference. The two products are rounded as the
// reference rounds them (w * (alpha * ramp) and (w * ramp) * alpha in float32).
at::Tensor semi_blend_pseudo_labels(const at::Tensor& probs, const at::Tensor& proto_probs,
                                    const at::Tensor& class_weight, double alpha, double ramp);

// The targets and masks of the unlabeled losses (ref train_semi.py:579-608, --pula 0: the
// standard head's pseudo-label is softmax(z_w / T), not logit-adjusted, then blended):
//   targets, confidence: argmax and max of `pseudo_label` (int64 / float [U]);
//   mask: float [U], 1 where max(pseudo_label) >= threshold or max(softmax(z_w / T)) >= it;
//   targets_balanced: argmax softmax((z_w - adjustment) / T) (float64 arithmetic), int64 [U];
//   mask_balanced: float [U], 1 where that max or max softmax(z_w_b / T) reaches the threshold.
// `pseudo_label` float [U, C]; `logits_weak` (standard head) and `logits_weak_balanced` float
// [U, C]; `adjustment` float64 [C] (semi_logit_adjustment with tau12).
struct SemiTargets {
  at::Tensor targets;
  at::Tensor confidence;
  at::Tensor mask;
  at::Tensor targets_balanced;
  at::Tensor mask_balanced;
};
SemiTargets semi_targets(const at::Tensor& pseudo_label, const at::Tensor& logits_weak,
                         const at::Tensor& logits_weak_balanced, const at::Tensor& adjustment,
                         double threshold, double temperature);

// The confident pseudo-labels of one batch by class: bincount(argmax pseudo_label[mask]),
// int64 [C] (ref utils_sup/utils.py:55-58). The reference adds it to a float32 running count
// every step, never reset (train_semi.py:487, 620-624); summed over the ranks in a multi-rank
// run. `pseudo_label` float [U, C], `mask` float [U].
at::Tensor semi_confident_counts(const at::Tensor& pseudo_label, const at::Tensor& mask);

// The per-class strength base w = (n / sum n) / sum(n / sum n) for the float32 running counts
// n [C] (ref utils_sup/utils.py:63-65, "normalized_probabilities_inv"), float [C]; the
// reference refreshes it at the last step of each epoch (train_semi.py:620-621). NaN in every
// entry when no sample was ever confident (0 / 0), as in the reference.
at::Tensor semi_class_frequency(const at::Tensor& label_counts);

// Hard-example weights (ref train_semi.py:631-632): with p clamped to [1e-8, 1 - 1e-8]
// (1 - 1e-8 rounds to 1 in float32),
//   w_i = -sum_c p_ic log2 p_ic / log2 C * scale + (1 - scale),
// in [1 - scale, 1] for a normalised row: uncertain (hard) samples weigh more. `pseudo_label`
// float [U, C] (the blended one) -> float [U].
at::Tensor semi_hard_example_weights(const at::Tensor& pseudo_label, double scale);

// The feature-consistency term (ref train_semi.py:635-640): over the doubled batch
// (weak, weak) against (strong, strong1),
//   q = softmax((f_w - center) / (T / 5)) over the D feature dimensions (no gradient),
//   loss = mean_i (1 - mask_i) sum_d -q_id log softmax(f_s / T)_id,
// the mean over all 2 U rows; `teacher_sum` = sum_i q_i, float [1, D], for
// semi_update_center. `weak`, `strong`, `strong1` float [U, D] (semi_view_features), `center`
// float [1, D], `mask` float [U] (SemiTargets::mask), T = --proto_t.
struct SemiConsistency {
  at::Tensor loss;         // float scalar, with gradient through `strong` and `strong1`
  at::Tensor teacher_sum;  // float [1, D]
};
SemiConsistency semi_feature_consistency(const at::Tensor& weak, const at::Tensor& strong,
                                         const at::Tensor& strong1, const at::Tensor& center,
                                         const at::Tensor& mask, double temperature);

// center * 0.9 + (teacher_sum / rows) * (1 - 0.9) (ref utils_sup/utils.py:131-140), float
// [1, D]; `rows` = 2 U (in a multi-rank run: teacher_sum summed over the ranks and 2 U times
// the world size). The reference subtracts this running mean of softmax outputs from the weak
// features (different units), starting from zeros (train_semi.py:486).
at::Tensor semi_update_center(const at::Tensor& center, const at::Tensor& teacher_sum,
                              std::int64_t rows);

// mean_i(CE(logits_i, targets_i) * weight_i) (ref train_semi.py:645-648): Lu with weight =
// mask * hard-example weights ((CE * mask) * weights, pass both), Lu_b with the balanced mask
// (`weights` undefined). logits float [N, C], targets int64 [N], mask and weights float [N].
at::Tensor semi_masked_cross_entropy(const at::Tensor& logits, const at::Tensor& targets,
                                     const at::Tensor& mask, const at::Tensor& weights);

// The balanced head's labeled loss CE(z_b + adjustment, y), mean (ref train_semi.py:565):
// float64 (the float64 adjustment promotes the logits), as the reference.
at::Tensor semi_balanced_labeled_loss(const at::Tensor& logits_balanced, const at::Tensor& labels,
                                      const at::Tensor& adjustment);

// The class-balanced memory bank with confidence decay (ref utils_sup/memorybank.py, the class
// utils_sup/__init__.py:8 exports; the other memorybank_*.py files are unused). Per class, K
// slots of a feature and its confidence, sorted by confidence, highest first; starts empty
// (zero features, zero confidences). Buffers (the checkpoint carries them; every rank holds
// the same bank when every rank passes the same, gathered, rows):
//   memory          float [C, K, D]
//   confidences     float [C, K]
//   inserted_count  int64 [C, K]: how many rows with this slot's confidence value were
//                   inserted into its class since the last decay (the same for every slot of
//                   that value): the reference keeps a list of inserted confidences instead
//                   (memorybank.py:15, 107); its decay needs only these counts.
// Updates are exact transcriptions, quirks included; sorting is stable (equal confidences keep
// their slot order), where the reference's torch.argsort leaves their order to the device.
class SemiMemoryBankImpl : public torch::nn::Module {
 public:
  // InputError when classes, per_class or dim < 1.
  SemiMemoryBankImpl(std::int64_t classes, std::int64_t per_class, std::int64_t dim,
                     at::Device device);

  // Offers each row n with mask[n] != 0, in order (ref memorybank.py:70-114): when its
  // confidence s exceeds the class's lowest (last) slot confidence, the class's features drop
  // their FIRST (highest-confidence) row and take the new feature last, while only the last
  // confidence becomes s; then slots are sorted by confidence. (The pairing of features and
  // confidences thereby shifts by one slot at each insertion, as in the reference.)
  // `features` [N, D] (any float dtype; stored as float, detached), `classes` int64 [N] (the
  // argmax of the blended pseudo-label, memorybank.py:81), `confidences` float [N], `mask`
  // [N] (nonzero = offered); reference rows: the doubled strong-view features with the
  // doubled pseudo-labels, confidences and SemiTargets::mask (train_semi.py:627).
  // Deterministic. std::invalid_argument on shapes that disagree or a class out of range.
  void update(const at::Tensor& features, const at::Tensor& classes, const at::Tensor& confidences,
              const at::Tensor& mask);

  // Confidence decay, then forgets the insertions (ref memorybank.py:28-68 then 25-26, called
  // together every --decay_step steps of an epoch, train_semi.py:660-664): per class, the
  // slots whose confidence value was not inserted since the last decay are multiplied by 0.99
  // (a fixed factor, not --df); where a value fills k slots but was inserted m < k times,
  // the first k - m of them (slot order) decay. Then slots are sorted again.
  void decay();

  // The per-class prototypes: the mean of all K slots, empty (zero) slots included (ref
  // memorybank.py:180-181), float [C, D].
  at::Tensor prototypes() const;

  const at::Tensor& memory() const { return memory_; }
  const at::Tensor& confidences() const { return confidences_; }
  const at::Tensor& inserted_count() const { return inserted_count_; }

 private:
  std::int64_t classes_;
  std::int64_t per_class_;
  std::int64_t dim_;
  at::Tensor memory_;
  at::Tensor confidences_;
  at::Tensor inserted_count_;
};
TORCH_MODULE(SemiMemoryBank);

}  // namespace crest
