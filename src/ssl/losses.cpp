#include "crest/ssl/losses.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "crest/util/error.h"

namespace crest {

std::vector<double> class_balanced_weights(const std::vector<std::int64_t>& counts, double beta) {
  if (!(beta >= 0.0 && beta < 1.0)) {
    throw InputError("class-balanced weights: beta must be in [0, 1), got " + std::to_string(beta));
  }
  std::vector<double> weights;
  double sum = 0.0;
  for (std::int64_t n : counts) {
    // 1 - beta^n as -expm1(n log beta): exact for beta near 1, where 1 - pow() cancels.
    const double effective = n > 0 ? (beta == 0.0 ? 1.0 : -std::expm1(n * std::log(beta))) : 0.0;
    const double w = n > 0 ? (1.0 - beta) / effective : 0.0;
    weights.push_back(w);
    sum += w;
  }
  if (!(sum > 0.0)) throw InputError("class-balanced weights: no class has an example");
  for (double& w : weights) w *= static_cast<double>(counts.size()) / sum;
  return weights;
}

at::Tensor LabeledLossFn::operator()(const at::Tensor& logits, const at::Tensor& labels) const {
  const at::Tensor z = logits.to(at::kFloat);
  switch (kind) {
    case LabeledLoss::kCe:
      return at::cross_entropy_loss(z, labels);
    case LabeledLoss::kLogitAdjusted:
      return at::cross_entropy_loss(z + log_prior, labels);
    case LabeledLoss::kCbSoftmax: {
      const at::Tensor per_example =
          at::cross_entropy_loss(z, labels, /*weight=*/{}, at::Reduction::None);
      return (per_example * class_weights.index_select(0, labels)).mean();
    }
    case LabeledLoss::kCbSigmoid:
    case LabeledLoss::kCbFocal: {
      const at::Tensor onehot = at::one_hot(labels, z.size(1)).to(at::kFloat);
      at::Tensor bce = at::binary_cross_entropy_with_logits(z, onehot, {}, {}, at::Reduction::None);
      if (kind == LabeledLoss::kCbFocal) {
        // (1 - p_t)^gamma = exp(-gamma * (y z + log(1 + exp(-z)))), Cui et al.'s stable form.
        bce = bce * at::exp(-focal_gamma * (onehot * z + at::softplus(-z)));
      }
      const at::Tensor w = class_weights.index_select(0, labels).unsqueeze(1);
      return (bce * w).sum() / static_cast<double>(z.size(0));
    }
  }
  return at::cross_entropy_loss(z, labels);
}

LabeledLossFn make_labeled_loss(const TrainConfig& train, const std::vector<std::int64_t>& counts,
                                at::Device device) {
  LabeledLossFn fn;
  fn.kind = train.labeled_loss;
  fn.focal_gamma = train.focal_gamma;
  const auto on_device = [&](const std::vector<double>& v) {
    return at::tensor(v, at::TensorOptions().dtype(at::kDouble)).to(device, at::kFloat);
  };
  switch (train.labeled_loss) {
    case LabeledLoss::kCe:
      break;
    case LabeledLoss::kCbSoftmax:
    case LabeledLoss::kCbSigmoid:
    case LabeledLoss::kCbFocal:
      fn.class_weights = on_device(class_balanced_weights(counts, train.cb_beta));
      break;
    case LabeledLoss::kLogitAdjusted: {
      double total = 0.0;
      for (std::int64_t n : counts) total += static_cast<double>(n);
      std::vector<double> log_prior;
      for (std::int64_t n : counts) {
        // A class without examples gets the floor of metrics' logit_adjust (1e-12).
        log_prior.push_back(train.la_tau * std::log(std::max(n / total, 1e-12)));
      }
      fn.log_prior = on_device(log_prior);
      break;
    }
  }
  return fn;
}

bool is_sigmoid_loss(LabeledLoss loss) {
  return loss == LabeledLoss::kCbSigmoid || loss == LabeledLoss::kCbFocal;
}

double sigmoid_prior_bias(int num_classes) {
  if (num_classes < 2) {
    throw InputError("the sigmoid prior bias needs at least 2 classes, got " +
                     std::to_string(num_classes));
  }
  // -log((1 - pi) / pi) with pi = 1 / C.
  return -std::log(static_cast<double>(num_classes - 1));
}

bool logits_already_adjusted(const TrainConfig& train, const AcrConfig& acr) {
  if (has_balanced_head(train.algorithm)) return acr.tau2 > 0.0;
  return train.labeled_loss == LabeledLoss::kLogitAdjusted && train.la_tau > 0.0;
}

}  // namespace crest
