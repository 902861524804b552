// Progressive distribution alignment (CReST+): before argmax and threshold, the weak-view
// probabilities of the unlabeled batch are re-weighted toward a target class distribution,
//   p~ = normalise(p * (1e-6 + target) / (1e-6 + p_model)),   target = normalise(p_data^t_g),
// where p_model is the running estimate of the model's class distribution on unlabeled data.
// Alignment only touches the training pseudo-labels.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "crest/config/choices.h"

namespace crest {

// t_g for generation g of G: linear from 1 at g = 0 to t_min at g = G - 1 (G = 1: 1 when
// linear), or t_min throughout (constant).
double alignment_temperature(int generation, int generations, double t_min,
                             TemperatureSchedule schedule);

// normalise(p_data^t).
std::vector<double> tempered_target(const std::vector<double>& p_data, double t);

// A module so that checkpoints carry p_model by construction. Buffers:
//   p_model_history  float [R, C]: R = crest.p_model_buffer batch means (ring) for mode buffer,
//                    R = 1 (the moving average) for mode ema; starts uniform
//   history_next     int64 [1]: the ring row written next (on the device: CUDA-graph safe)
class DistributionAlignerImpl : public torch::nn::Module {
 public:
  // mode buffer: p_model is the mean of the last `buffer_size` batch means (reference; starts
  // uniform); ema: p_model = m * p_model + (1 - m) * batch mean (USB; starts uniform). `target`
  // [C] is the tempered p_data (config, not state). InputError when `target` is empty.
  DistributionAlignerImpl(const std::vector<double>& target, PModelEstimate mode, int buffer_size,
                          double momentum, at::Device device);

  // Aligned probabilities for `probs` [B, C] (float, no grad).
  at::Tensor align(const at::Tensor& probs) const;
  // Feeds the raw probabilities of one batch into p_model.
  void observe(const at::Tensor& probs);
  // Current p_model [C] (normalised).
  at::Tensor p_model() const;

 private:
  PModelEstimate mode_;
  double momentum_;
  at::Tensor target_;
  at::Tensor history_;
  at::Tensor next_;
};
TORCH_MODULE(DistributionAligner);

}  // namespace crest
