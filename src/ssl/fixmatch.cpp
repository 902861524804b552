#include "crest/ssl/fixmatch.h"

#include <cmath>

namespace crest {

double halfcos_lr(double base_lr, std::int64_t step, std::int64_t total_steps, double level) {
  if (total_steps <= 0) return base_lr;
  const double progress = static_cast<double>(step) / static_cast<double>(total_steps);
  return base_lr * std::cos(M_PI * progress * level / 16.0);
}

FixMatchLoss fixmatch_loss(const at::Tensor& logits_x, const at::Tensor& labels_x,
                           const at::Tensor& probs_weak, const at::Tensor& logits_strong,
                           double threshold, double lambda_u, const LabeledLossFn* labeled) {
  FixMatchLoss out;
  const at::Tensor lx = logits_x.to(at::kFloat);
  const at::Tensor ls = logits_strong.to(at::kFloat);
  out.loss_x = labeled != nullptr ? (*labeled)(lx, labels_x)
                                  : at::cross_entropy_loss(lx, labels_x);  // mean over the batch
  const auto [max_probs, pseudo] = probs_weak.to(at::kFloat).max(1);
  out.pseudo_labels = pseudo;
  out.mask = max_probs.ge(threshold).to(at::kFloat);
  const at::Tensor per_image =
      at::cross_entropy_loss(ls, pseudo, /*weight=*/{}, at::Reduction::None);
  // Divided by the whole unlabeled batch, not by the number kept (reference: "full" divisor).
  out.loss_u = (per_image * out.mask).sum() / static_cast<double>(ls.size(0));
  out.total = out.loss_x + lambda_u * out.loss_u;
  return out;
}

}  // namespace crest
