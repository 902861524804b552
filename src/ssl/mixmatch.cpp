#include "crest/ssl/mixmatch.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace crest {

at::Tensor sharpen(const at::Tensor& probs, double T) {
  if (!(T > 0.0 && T <= 1.0)) {
    throw std::invalid_argument("sharpen: T must be in (0, 1], got " + std::to_string(T));
  }
  const at::Tensor p = probs.to(at::kFloat);
  const at::Tensor powered = p.pow(1.0 / T);
  const at::Tensor sum = powered.sum(1, /*keepdim=*/true);
  // The reference's p^(1/T) / sum, bit for bit, wherever the sum is a normal float. For a small
  // T every p^(1/T) of a row can underflow to 0 (0 / 0); there the same q comes from the log
  // space, softmax((log p - max log p) / T), in double so that the division by any T > 0 stays
  // finite (a gap / T beyond the range is -inf, i.e. weight 0). Chosen per row, no host sync.
  const at::Tensor log_p = p.to(at::kDouble).log();
  const at::Tensor shifted = log_p - std::get<0>(log_p.max(1, /*keepdim=*/true));
  const at::Tensor log_space = at::softmax(shifted / T, 1).to(at::kFloat);
  const at::Tensor normal = sum >= std::numeric_limits<float>::min();
  return at::where(normal, powered / sum, log_space);
}

MixMatchGuess mixmatch_guess(const at::Tensor& logits, std::int64_t K, double T,
                             const DistributionAligner& alignment) {
  if (K < 1 || logits.dim() != 2 || logits.size(0) % K != 0) {
    throw std::invalid_argument("mixmatch_guess: logits must be [K * U, C] with K >= 1");
  }
  at::NoGradGuard no_grad;
  const std::int64_t U = logits.size(0) / K;
  MixMatchGuess out;
  const at::Tensor probs = at::softmax(logits.detach().to(at::kFloat), 1);
  out.mean_probs = probs.view({K, U, probs.size(1)}).mean(0);
  out.targets = sharpen(alignment ? alignment->align(out.mean_probs) : out.mean_probs, T);
  return out;
}

MixUpDraw draw_mixup(std::int64_t N, double alpha, at::Generator& generator, at::Device device) {
  if (!(alpha > 0.0)) {
    throw std::invalid_argument("draw_mixup: alpha must be > 0, got " + std::to_string(alpha));
  }
  MixUpDraw out;
  out.perm = at::randperm(N, generator, at::TensorOptions().dtype(at::kLong).device(device));
  // Beta(alpha, alpha) = G1 / (G1 + G2), G ~ Gamma(alpha, 1); in double so that small alphas
  // keep resolution near 0 and 1 (LibTorch clamps gamma draws to the smallest normal, so the sum
  // is never 0).
  const at::Tensor shape =
      at::full({2, N}, alpha, at::TensorOptions().dtype(at::kDouble).device(device));
  const at::Tensor gamma = at::_standard_gamma(shape, generator);
  const at::Tensor lambda = gamma[0] / (gamma[0] + gamma[1]);
  out.lambda = at::max(lambda, 1.0 - lambda).to(at::kFloat);
  return out;
}

at::Tensor mixup(const at::Tensor& x, const at::Tensor& perm, const at::Tensor& lambda) {
  if (x.dim() < 1 || perm.numel() != x.size(0) || lambda.numel() != x.size(0)) {
    throw std::invalid_argument("mixup: perm and lambda need one entry per row of x");
  }
  std::vector<std::int64_t> shape(static_cast<std::size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  const at::Tensor weight = lambda.to(at::kFloat).view(shape);
  const at::Tensor xf = x.to(at::kFloat);
  return weight * xf + (1.0 - weight) * xf.index_select(0, perm);
}

at::Tensor soft_cross_entropy(const at::Tensor& logits, const at::Tensor& targets) {
  return -(targets.to(at::kFloat) * at::log_softmax(logits.to(at::kFloat), 1)).sum(1).mean();
}

at::Tensor probability_mse(const at::Tensor& logits, const at::Tensor& targets) {
  return (at::softmax(logits.to(at::kFloat), 1) - targets.to(at::kFloat)).pow(2).mean();
}

double mixmatch_rampup(std::int64_t step, std::int64_t rampup_steps) {
  if (rampup_steps <= 0) return 1.0;
  return std::clamp(static_cast<double>(step) / static_cast<double>(rampup_steps), 0.0, 1.0);
}

MixMatchLoss mixmatch_loss(const std::function<at::Tensor(const at::Tensor&)>& forward,
                           const at::Tensor& inputs, const at::Tensor& labels, const MixUpDraw& mix,
                           std::int64_t K, double T, double lambda_u,
                           const DistributionAligner& alignment) {
  const std::int64_t B = labels.size(0);
  const std::int64_t rows_u = inputs.size(0) - B;  // K * U
  if (K < 1 || rows_u <= 0 || rows_u % K != 0) {
    throw std::invalid_argument(
        "mixmatch_loss: inputs must hold B labeled and K * U unlabeled rows");
  }
  MixMatchLoss out;
  // The guess: a forward of the unlabeled views whose result is a target, never differentiated.
  at::Tensor logits_u;
  {
    at::NoGradGuard no_grad;
    logits_u = forward(inputs.narrow(0, B, rows_u));
  }
  const MixMatchGuess guess = mixmatch_guess(logits_u, K, T, alignment);
  out.mean_probs = guess.mean_probs;
  out.pseudo_labels = guess.targets.argmax(1);
  const std::int64_t C = guess.targets.size(1);
  const at::Tensor targets =
      at::cat({at::one_hot(labels, C).to(at::kFloat), guess.targets.repeat({K, 1})});
  const at::Tensor mixed_inputs = mixup(inputs, mix.perm, mix.lambda);
  const at::Tensor mixed_targets = mixup(targets, mix.perm, mix.lambda);
  const at::Tensor logits = forward(mixed_inputs).to(at::kFloat);
  out.loss_x = soft_cross_entropy(logits.narrow(0, 0, B), mixed_targets.narrow(0, 0, B));
  out.loss_u = probability_mse(logits.narrow(0, B, rows_u), mixed_targets.narrow(0, B, rows_u));
  out.total = out.loss_x + lambda_u * out.loss_u;
  return out;
}

}  // namespace crest
