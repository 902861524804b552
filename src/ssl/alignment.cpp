#include "crest/ssl/alignment.h"

#include <cmath>
#include <numeric>
#include <string>

#include "crest/util/error.h"

namespace crest {

double alignment_temperature(int generation, int generations, double t_min,
                             TemperatureSchedule schedule) {
  switch (schedule) {
    case TemperatureSchedule::kConstant:
      return t_min;
    case TemperatureSchedule::kLinear:
      break;
  }
  if (generations <= 1) return 1.0;  // the guard: one generation never reaches t_min
  const double progress = static_cast<double>(generation) / (generations - 1);
  return (1.0 - progress) * 1.0 + progress * t_min;
}

std::vector<double> tempered_target(const std::vector<double>& p_data, double t) {
  std::vector<double> out(p_data.size());
  double sum = 0.0;
  for (std::size_t c = 0; c < p_data.size(); ++c) {
    out[c] = std::pow(p_data[c], t);
    sum += out[c];
  }
  if (!(sum > 0.0)) throw InputError("the alignment target has no mass");
  for (double& v : out) v /= sum;
  return out;
}

DistributionAlignerImpl::DistributionAlignerImpl(const std::vector<double>& target,
                                                 PModelEstimate mode, int buffer_size,
                                                 double momentum, at::Device device)
    : mode_(mode), momentum_(momentum) {
  if (target.empty()) throw InputError("the alignment target is empty");
  const auto classes = static_cast<std::int64_t>(target.size());
  const auto options = at::TensorOptions().dtype(at::kFloat).device(device);
  target_ = at::tensor(target, at::TensorOptions().dtype(at::kDouble)).to(options);
  std::int64_t rows = buffer_size;
  switch (mode) {
    case PModelEstimate::kBuffer:
      break;
    case PModelEstimate::kEma:
      rows = 1;
      break;
  }
  history_ = register_buffer(
      "p_model_history", at::full({rows, classes}, 1.0 / static_cast<double>(classes), options));
  next_ = register_buffer("history_next",
                          at::zeros({1}, at::TensorOptions().dtype(at::kLong).device(device)));
}

at::Tensor DistributionAlignerImpl::p_model() const {
  const at::Tensor mean = history_.mean(0);
  return mean / mean.sum();
}

at::Tensor DistributionAlignerImpl::align(const at::Tensor& probs) const {
  at::Tensor aligned = probs * (target_ + 1e-6) / (p_model() + 1e-6);
  return aligned / aligned.sum(1, /*keepdim=*/true);
}

void DistributionAlignerImpl::observe(const at::Tensor& probs) {
  const at::Tensor batch_mean = probs.mean(0);
  switch (mode_) {
    case PModelEstimate::kEma:
      history_[0].mul_(momentum_).add_(batch_mean, 1.0 - momentum_);
      break;
    case PModelEstimate::kBuffer:
      // A ring instead of the reference's shift-and-append: the mean over it is the same. The
      // position lives on the device, so observing needs no host value (CUDA-graph safe).
      history_.index_copy_(0, next_, batch_mean.unsqueeze(0));
      next_.add_(1).remainder_(history_.size(0));
      break;
  }
}

}  // namespace crest
