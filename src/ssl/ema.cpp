#include "crest/ssl/ema.h"

#include <ATen/ATen.h>

#include <stdexcept>

namespace crest {

WeightEma::WeightEma(torch::nn::Module& ema, torch::nn::Module& model) {
  for (const auto& p : ema.parameters()) ema_params_.push_back(p);
  for (const auto& p : model.parameters()) model_params_.push_back(p);
  for (const auto& b : ema.buffers()) ema_buffers_.push_back(b);
  for (const auto& b : model.buffers()) model_buffers_.push_back(b);
  if (ema_params_.size() != model_params_.size() || ema_buffers_.size() != model_buffers_.size()) {
    throw std::logic_error("WeightEma: the EMA model and the model differ in structure");
  }
  for (auto& p : ema_params_) p.set_requires_grad(false);
  reset();
}

void WeightEma::update(double decay) {
  at::NoGradGuard no_grad;
  // Multi-tensor updates: two kernels for all parameters instead of two per parameter.
  at::_foreach_mul_(ema_params_, decay);
  at::_foreach_add_(ema_params_, model_params_, 1.0 - decay);
  for (std::size_t i = 0; i < ema_buffers_.size(); ++i) ema_buffers_[i].copy_(model_buffers_[i]);
}

void WeightEma::reset() {
  at::NoGradGuard no_grad;
  for (std::size_t i = 0; i < ema_params_.size(); ++i) ema_params_[i].copy_(model_params_[i]);
  for (std::size_t i = 0; i < ema_buffers_.size(); ++i) ema_buffers_[i].copy_(model_buffers_[i]);
}

}  // namespace crest
