#include "crest/ssl/acr.h"

#include <stdexcept>
#include <utility>

#include "crest/util/error.h"

namespace crest {

namespace {

// nn.KLDivLoss(reduction='sum')(input, target) = sum target * (log target - input), 0 where the
// target is 0, in the dtypes PyTorch promotes to.
at::Tensor kl_div_sum(const at::Tensor& input, const at::Tensor& target) {
  return (at::xlogy(target, target) - target * input).sum();
}

// Max probability >= threshold, and the argmax, of `probs` [U, C].
std::pair<at::Tensor, at::Tensor> confident(const at::Tensor& probs, double threshold) {
  const auto [max_probs, targets] = probs.max(1);
  return {max_probs.ge(threshold), targets};
}

// Mean over both strong views of CE(logits, targets) * mask (train.py l. 573-576).
at::Tensor masked_consistency(const at::Tensor& strong1, const at::Tensor& strong2,
                              const at::Tensor& targets, const at::Tensor& mask) {
  const at::Tensor logits = at::cat({strong1, strong2}).to(at::kFloat);
  const at::Tensor per_image = at::cross_entropy_loss(logits, at::cat({targets, targets}),
                                                      /*weight=*/{}, at::Reduction::None);
  return (per_image * at::cat({mask, mask})).mean();
}

}  // namespace

at::Tensor acr_adjustment(const at::Tensor& p, const at::Tensor& tau) {
  return at::log(at::pow(p, tau) + 1e-12);
}

at::Tensor acr_symmetric_kl(const at::Tensor& q, const at::Tensor& p) {
  return 0.5 * kl_div_sum(q.log(), p) + 0.5 * kl_div_sum(p.log(), q);
}

AcrLoss acr_loss(const AcrLogits& logits, const at::Tensor& labels, const AcrAdjustments& adj,
                 double threshold, double temperature, double lambda_u,
                 const LabeledLossFn& labeled,
                 const std::function<at::Tensor(const at::Tensor&)>& align) {
  AcrLoss out;
  out.loss_x = labeled(logits.x.to(at::kFloat), labels);
  out.loss_xb = at::cross_entropy_loss(logits.x_b.to(at::kFloat) + adj.l2, labels).to(at::kFloat);
  const std::int64_t unlabeled = logits.u_weak.size(0);
  if (unlabeled == 0) {
    const auto long_options = labels.options();
    out.loss_u = at::zeros({}, out.loss_x.options());
    out.loss_ub = at::zeros({}, out.loss_x.options());
    out.mask = at::zeros({0}, out.loss_x.options());
    out.mask_b = at::zeros({0}, out.loss_x.options());
    out.pseudo_labels = at::zeros({0}, long_options);
    out.targets_b = at::zeros({0}, long_options);
    out.total = out.loss_x + out.loss_xb;
    return out;
  }
  // Pseudo-labels without gradient (l. 522-525).
  const at::Tensor weak = logits.u_weak.detach().to(at::kFloat);
  const at::Tensor weak_b = logits.u_weak_b.detach().to(at::kFloat);
  at::Tensor p = at::softmax((weak - adj.l1) / temperature, -1);
  if (align) p = align(p.to(at::kFloat));
  const auto [mask, targets_u] = confident(p, threshold);
  const auto [mask_h2, targets_u_h2] =
      confident(at::softmax((weak - adj.l12) / temperature, -1), threshold);
  const auto [mask_b, targets_b] = confident(at::softmax(weak_b / temperature, -1), threshold);
  const auto [mask_t, targets_t] = confident(at::softmax(weak / temperature, -1), threshold);
  out.mask = at::logical_or(mask, mask_t).to(at::kFloat);
  const at::Tensor mask_ss_b_h2 = at::logical_or(mask_b, mask_h2).to(at::kFloat);
  out.loss_u = masked_consistency(logits.u_strong1, logits.u_strong2, targets_u, out.mask);
  out.loss_ub =
      masked_consistency(logits.u_strong1_b, logits.u_strong2_b, targets_u_h2, mask_ss_b_h2);
  out.pseudo_labels = targets_u;
  out.targets_b = targets_b;
  out.mask_b = mask_b.to(at::kFloat);
  out.total = out.loss_x + out.loss_xb + lambda_u * (out.loss_u + out.loss_ub);
  return out;
}

at::Tensor acr_class_counts(const at::Tensor& targets_b, const at::Tensor& mask_b, int num_classes,
                            AcrClassCount rule) {
  const auto options = mask_b.options().dtype(at::kFloat);
  const at::Tensor weights = mask_b.to(at::kFloat);
  if (targets_b.numel() == 0) return at::zeros({num_classes}, options);
  switch (rule) {
    case AcrClassCount::kHistogram:
      return at::zeros({num_classes}, options).index_add_(0, targets_b, weights);
    case AcrClassCount::kReference: {
      // The last image predicted c decides class c (index_put_ with repeated indices): per
      // class, 1 + the largest position predicting it, 0 where none does.
      const at::Tensor position = at::arange(1, targets_b.size(0) + 1, targets_b.options());
      const at::Tensor last =
          (at::one_hot(targets_b, num_classes) * position.unsqueeze(1)).amax(0, false);
      return at::where(last.gt(0), weights.index_select(0, (last - 1).clamp_min(0)),
                       at::zeros({num_classes}, options));
    }
  }
  throw std::logic_error("acr_class_counts: unknown rule");
}

AcrEstimateImpl::AcrEstimateImpl(const std::vector<double>& py_con, double tau_max, double ema_u,
                                 AcrClassCount rule, at::Device device)
    : tau_max_(tau_max), ema_u_(ema_u), rule_(rule) {
  if (py_con.empty()) throw InputError("ACR needs the labeled class distribution; it is empty");
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  py_con_ = at::tensor(py_con, f64).to(device);
  const auto classes = static_cast<std::int64_t>(py_con.size());
  // The uniform anchor is float32 (torch.ones(C) / C, l. 347), the others float64.
  py_uni_ = at::ones({classes}, at::TensorOptions().device(device)) / static_cast<double>(classes);
  py_rev_ = py_con_.flip({0});
  u_py_ = register_buffer("u_py", at::full({classes}, 1.0F / static_cast<float>(classes),
                                           at::TensorOptions().dtype(at::kFloat).device(device)));
  count_kl_ = register_buffer("count_kl", at::zeros({3}, at::TensorOptions().device(device)));
  tau_ = register_buffer("tau", at::full({1}, tau_max, f64.device(device)));
  adjustment_l1_ = register_buffer("adjustment_l1", acr_adjustment(py_con_, tau_.squeeze()));
}

void AcrEstimateImpl::start_epoch(std::int64_t steps_per_epoch, bool update) {
  at::NoGradGuard no_grad;
  if (update) {
    const at::Tensor mean_kl = count_kl_ / static_cast<double>(steps_per_epoch);
    const at::Tensor weight =
        at::exp(mean_kl[0]) / (at::exp(mean_kl[0]) + at::exp(mean_kl[1]) + at::exp(mean_kl[2]));
    // tau = taumin + (taumax - taumin) * weight with taumin = 0 (l. 357, 470), a
    // float32 tensor; the adjustment follows only when it is a number (l. 471).
    const at::Tensor tau = (tau_max_ * weight).to(at::kFloat);
    const at::Tensor keep = at::isnan(tau);
    adjustment_l1_.copy_(at::where(keep, adjustment_l1_, acr_adjustment(py_con_, tau)));
    tau_.copy_(at::where(keep, tau_, tau.to(at::kDouble)));
  }
  count_kl_.zero_();
}

void AcrEstimateImpl::observe(const at::Tensor& targets_b, const at::Tensor& mask_b) {
  at::NoGradGuard no_grad;
  const at::Tensor counts =
      acr_class_counts(targets_b, mask_b, static_cast<int>(u_py_.size(0)), rule_);
  const at::Tensor total = counts.sum();
  const at::Tensor any = total.gt(0);
  // Only steps with a confident image move the estimate (l. 562).
  const at::Tensor now = counts / at::where(any, total, at::ones_like(total));
  const at::Tensor moved = ema_u_ * u_py_ + (1.0 - ema_u_) * now;
  u_py_.copy_(at::where(any, moved, u_py_));
  const at::Tensor kl =
      at::stack({acr_symmetric_kl(py_con_, u_py_), acr_symmetric_kl(py_uni_, u_py_),
                 acr_symmetric_kl(py_rev_, u_py_)});
  // count_kl is float32; each addition is rounded to it, as count_KL[i] = count_KL[i] + KL.
  count_kl_.copy_(at::where(any, (count_kl_.to(at::kDouble) + kl).to(at::kFloat), count_kl_));
}

}  // namespace crest
