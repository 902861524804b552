// The arithmetic of DASO (Oh, Kim and Kweon, "DASO: Distribution-Aware Semantics-Oriented
// Pseudo-label for Imbalanced Semi-Supervised Learning", CVPR 2022), as its code ytaek-oh/daso
// (commit 3541a6c) computes it on top of FixMatch: a class-wise queue of labeled features whose
// means are the class prototypes, semantic pseudo-labels from the cosine similarity to them,
// their class-adaptive blend with the linear classifier's pseudo-labels according to the current
// pseudo-label distribution, and the semantic alignment loss. Pure functions on tensors plus the
// queue (a module of buffers, so checkpoints carry it); DasoLearner (ssl/semi_learners.h)
// composes them (docs/methods.md, "DASO", gives the step in order). Each function keeps the
// reference's order of operations in float32, so tests/unit/ssl/daso_test.cpp matches
// tests/fixtures/daso_reference.py (a transcription of the reference) to 1e-6. "ref" lines below
// are ytaek-oh/daso at commit 3541a6c.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace crest {

// The similarity logits cos(f_i, c_k) / T_proto (ref lib/models/daso_model.py:81-83 and 90-92:
// nn.CosineSimilarity(dim=2), eps 1e-8, then divided by PROTO_TEMP). `features` float [N, D]
// (the pooled features, unnormalised), `prototypes` float [C, D] -> float [N, C].
at::Tensor daso_similarity(const at::Tensor& features, const at::Tensor& prototypes,
                           double temperature);

// The blend weights v (ref daso_model.py:165-168 after DistributionLogger.get_pl_dist,
// lib/utils/dist_logger.py:37-45): m = counts / sum(counts), v = m^(1/T_dist), v = v / sum(v),
// v = v / max(v): the weight of the semantic pseudo-label is 1 for the most frequent class of
// the pseudo-labels and smaller for rarer ones. `counts` float [C] (the final pseudo-labels per
// class of the last period) -> float [C]. NaN everywhere when every count is 0 (0 / 0), as in
// the reference (the config refuses warm-ups shorter than a period, config/validate.cpp).
at::Tensor daso_blend_weights(const at::Tensor& counts, double dist_temperature);

// The blended pseudo-label (ref daso_model.py:170-175):
//   p~_i = (1 - w_i) p_i + w_i q_i,  w_i = v[argmax p_i]   (dist-aware, `weights` = v [C]),
//   w_i = alpha                                             (`weights` undefined),
// p float [N, C] the linear pseudo-label (softmax of the weak logits), q float [N, C] the
// semantic one (softmax of daso_similarity of the weak features) -> float [N, C].
at::Tensor daso_blend(const at::Tensor& probs, const at::Tensor& semantic,
                      const at::Tensor& weights, double alpha);

// The semantic alignment loss (ref daso_model.py:94-95):
//   L_align = -sum_i sum_k q_ik log softmax(s_i)_k / N,
// `semantic` float [N, C] the weak view's semantic pseudo-label (no gradient), `strong_logits`
// float [N, C] daso_similarity of the strong view's features (gradient flows through them) ->
// float scalar.
at::Tensor daso_alignment_loss(const at::Tensor& semantic, const at::Tensor& strong_logits);

// The class-wise feature queue (ref lib/models/feature_queue.py, built with bal_queue=True:
// every class keeps at most `per_class` features, daso_model.py:17). Buffers (the checkpoint
// carries them; every rank holds the same queue when every rank enqueues the same, gathered,
// rows):
//   memory      float [C, K, D]: class k's features in rows 0 .. size[k] - 1, oldest first
//   size        int64 [C]
//   prototypes  float [C, D]: the mean of class k's rows, updated when class k gets features;
//               zeros until then (as the reference's).
class DasoQueueImpl : public torch::nn::Module {
 public:
  // InputError when classes, per_class or dim < 1.
  DasoQueueImpl(std::int64_t classes, std::int64_t per_class, std::int64_t dim, at::Device device);

  // Appends each class's rows of `features` (float [N, D], detached; in row order) to its
  // queue, keeps the newest K, and sets its prototype to their mean (ref feature_queue.py:19-41).
  // `labels` int64 [N]. std::invalid_argument on shapes that disagree or a label out of range.
  void enqueue(const at::Tensor& features, const at::Tensor& labels);

  const at::Tensor& memory() const { return memory_; }
  const at::Tensor& size() const { return size_; }
  const at::Tensor& prototypes() const { return prototypes_; }

 private:
  std::int64_t classes_;
  std::int64_t per_class_;
  std::int64_t dim_;
  at::Tensor memory_;
  at::Tensor size_;
  at::Tensor prototypes_;
};
TORCH_MODULE(DasoQueue);

}  // namespace crest
