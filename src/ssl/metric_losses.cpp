#include "crest/ssl/metric_losses.h"

#include <limits>
#include <stdexcept>

namespace crest {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// bool [N, N]: i != j.
at::Tensor off_diagonal(std::int64_t n, const at::Device& device) {
  return at::eye(n, at::TensorOptions().dtype(at::kBool).device(device)).logical_not();
}

// The mean of `per_anchor` [N] over the anchors where `valid` [N] is true; 0 when none. The
// division by max(count, 1) keeps the graph without reading the count on the host.
at::Tensor masked_mean(const at::Tensor& per_anchor, const at::Tensor& valid) {
  const at::Tensor kept = at::where(valid, per_anchor, at::zeros_like(per_anchor));
  return kept.sum() / valid.sum().clamp_min(1).to(kept.scalar_type());
}

// 0 attached to the graph of `e`: the loss of a batch of no images (max over an empty dimension
// would throw). Decided from the shape alone, so no host synchronisation.
at::Tensor empty_batch_loss(const at::Tensor& e) { return e.sum() * 0.0; }

}  // namespace

at::Tensor batch_hard_triplet_loss(const at::Tensor& embeddings, const at::Tensor& labels,
                                   double margin) {
  const at::Tensor e = embeddings.to(at::kFloat);
  const std::int64_t n = e.size(0);
  if (n == 0) return empty_batch_loss(e);
  // Squared distances from the differences (exact at 0, unlike the Gram form).
  const at::Tensor d2 = (e.unsqueeze(1) - e.unsqueeze(0)).pow(2).sum(2);
  const at::Tensor d = d2.clamp_min(1e-12).sqrt();
  const at::Tensor same = labels.unsqueeze(1).eq(labels.unsqueeze(0));
  const at::Tensor positive = same.logical_and(off_diagonal(n, e.device()));
  const at::Tensor negative = same.logical_not();
  const at::Tensor d_ap = std::get<0>(at::where(positive, d, -kInf).max(1));
  const at::Tensor d_an = std::get<0>(at::where(negative, d, kInf).min(1));
  const at::Tensor valid = positive.any(1).logical_and(negative.any(1));
  // An anchor without a positive or a negative has -inf or +inf here: relu gives 0, no NaN.
  const at::Tensor hinge = at::relu(d_ap - d_an + margin);
  return masked_mean(hinge, valid);
}

at::Tensor supervised_contrastive_loss(const at::Tensor& embeddings, const at::Tensor& labels,
                                       double temperature) {
  const at::Tensor e = embeddings.to(at::kFloat);
  const std::int64_t n = e.size(0);
  if (n == 0) return empty_batch_loss(e);
  const at::Tensor s = at::matmul(e, e.t()) / temperature;
  const at::Tensor others = off_diagonal(n, e.device());
  const at::Tensor positive = labels.unsqueeze(1).eq(labels.unsqueeze(0)).logical_and(others);
  // The row maximum over a != i (0 for a row without others, N = 1), without gradient: the sum
  // below is then at least 1 wherever a row has another image.
  at::Tensor row_max = std::get<0>(at::where(others, s, -kInf).max(1, /*keepdim=*/true)).detach();
  row_max = at::where(at::isfinite(row_max), row_max, at::zeros_like(row_max));
  const at::Tensor shifted = s - row_max;
  const at::Tensor exp_others = at::where(others, shifted.exp(), at::zeros_like(shifted));
  // clamp_min: a row without others would take log(0); its anchor has no positive and is masked.
  const at::Tensor log_denominator = exp_others.sum(1, /*keepdim=*/true).clamp_min(1e-30).log();
  const at::Tensor log_prob = shifted - log_denominator;
  const at::Tensor count = positive.sum(1);
  const at::Tensor positive_sum = at::where(positive, log_prob, at::zeros_like(log_prob)).sum(1);
  const at::Tensor per_anchor = -positive_sum / count.clamp_min(1).to(at::kFloat);
  return masked_mean(per_anchor, count.gt(0));
}

at::Tensor dmlpl_metric_loss(const at::Tensor& embeddings, const at::Tensor& labels,
                             const DmlplConfig& config) {
  switch (config.metric_loss) {
    case MetricLoss::kTriplet:
      return batch_hard_triplet_loss(embeddings, labels, config.margin);
    case MetricLoss::kSupCon:
      return supervised_contrastive_loss(embeddings, labels, config.temperature);
  }
  throw std::logic_error("dmlpl_metric_loss: unknown dmlpl.metric_loss");
}

}  // namespace crest
