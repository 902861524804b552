#include "crest/ssl/daso.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "crest/util/error.h"

namespace crest {

at::Tensor daso_similarity(const at::Tensor& features, const at::Tensor& prototypes,
                           double temperature) {
  return at::cosine_similarity(features.unsqueeze(1), prototypes.unsqueeze(0), 2, 1e-8) /
         temperature;
}

at::Tensor daso_blend_weights(const at::Tensor& counts, double dist_temperature) {
  at::Tensor m = counts.to(at::kFloat);
  m = m / m.sum();
  m = at::pow(m, 1.0 / dist_temperature);
  m = m / m.sum();
  return m / m.max();
}

at::Tensor daso_blend(const at::Tensor& probs, const at::Tensor& semantic,
                      const at::Tensor& weights, double alpha) {
  if (!weights.defined()) return (1.0 - alpha) * probs + alpha * semantic;
  const at::Tensor w = weights.index_select(0, at::argmax(probs, 1)).view({-1, 1});
  return (1.0 - w) * probs + w * semantic;
}

at::Tensor daso_alignment_loss(const at::Tensor& semantic, const at::Tensor& strong_logits) {
  const at::Tensor per_row = -1 * at::sum(semantic * at::log_softmax(strong_logits, 1), 1);
  return per_row.sum() / strong_logits.size(0);
}

DasoQueueImpl::DasoQueueImpl(std::int64_t classes, std::int64_t per_class, std::int64_t dim,
                             at::Device device)
    : classes_(classes), per_class_(per_class), dim_(dim) {
  if (classes < 1 || per_class < 1 || dim < 1) {
    throw InputError("the DASO feature queue needs at least one class, slot and feature, got " +
                     std::to_string(classes) + " classes x " + std::to_string(per_class) +
                     " slots x " + std::to_string(dim) + " features");
  }
  const auto options = at::TensorOptions().dtype(at::kFloat).device(device);
  memory_ = register_buffer("memory", at::zeros({classes, per_class, dim}, options));
  size_ = register_buffer("size", at::zeros({classes}, options.dtype(at::kLong)));
  prototypes_ = register_buffer("prototypes", at::zeros({classes, dim}, options));
}

void DasoQueueImpl::enqueue(const at::Tensor& features, const at::Tensor& labels) {
  if (features.dim() != 2 || features.size(1) != dim_ || labels.dim() != 1 ||
      labels.size(0) != features.size(0)) {
    throw std::invalid_argument("DasoQueue::enqueue: needs features [N, " + std::to_string(dim_) +
                                "] and labels [N]");
  }
  if (labels.numel() == 0) return;
  const at::Tensor host_labels = labels.to(at::kCPU, at::kLong);
  const std::int64_t low = host_labels.min().item<std::int64_t>();
  const std::int64_t high = host_labels.max().item<std::int64_t>();
  if (low < 0 || high >= classes_) {
    throw std::invalid_argument("DasoQueue::enqueue: label outside [0, " +
                                std::to_string(classes_) + ")");
  }
  at::NoGradGuard no_grad;
  const at::Tensor f = features.detach().to(memory_.device(), at::kFloat);
  const at::Tensor sizes = size_.to(at::kCPU);
  for (std::int64_t k = 0; k < classes_; ++k) {
    const at::Tensor rows = at::nonzero(host_labels == k).squeeze(1);
    if (rows.numel() == 0) continue;
    // The reference's bank[k] = cat(bank[k], new)[-K:], then prototype = its mean.
    const std::int64_t held = sizes[k].item<std::int64_t>();
    const at::Tensor all =
        at::cat({memory_[k].narrow(0, 0, held), f.index_select(0, rows.to(f.device()))}, 0);
    const std::int64_t keep = std::min(all.size(0), per_class_);
    const at::Tensor kept = all.narrow(0, all.size(0) - keep, keep).clone();
    memory_[k].narrow(0, 0, keep).copy_(kept);
    size_[k].fill_(keep);
    prototypes_[k].copy_(kept.mean(0));
  }
}

}  // namespace crest
