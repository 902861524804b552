// Exponential moving average of a model's weights, as the CReST reference keeps it: the EMA
// model starts as a copy of the initial weights; each step its parameters move toward the raw
// model's (ema = decay * ema + (1 - decay) * raw) and its buffers (BatchNorm running statistics)
// are copied, not averaged.
#pragma once

#include <torch/nn/module.h>

#include <vector>

namespace crest {

class WeightEma {
 public:
  // `ema` and `model` must have the same architecture; `ema` becomes a copy of `model`.
  WeightEma(torch::nn::Module& ema, torch::nn::Module& model);

  void update(double decay);
  // Makes the EMA model an exact copy of the raw model again.
  void reset();

 private:
  std::vector<at::Tensor> ema_params_, model_params_, ema_buffers_, model_buffers_;
};

}  // namespace crest
