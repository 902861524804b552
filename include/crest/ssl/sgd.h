// SGD with momentum, optional Nesterov momentum and coupled L2 weight decay, with the update
// rule of torch.optim.SGD (dampening 0):
//   d = grad + wd * p;   buf = momentum * buf + d;   d = nesterov ? d + momentum * buf : buf;
//   p = p - lr * d.
// Buffers start at zero, which gives the first step torch's buf = d exactly and keeps the step
// free of branches (so it can be captured in a CUDA graph).
//
// Three implementations of the same rule: multi-tensor kernels (foreach), PyTorch's fused CUDA
// kernel (LibTorch >= 2.3), and one small kernel sequence per parameter (loop, the way
// torch.optim.SGD runs without foreach; kept as the reference and for measuring). The learning
// rate also lives in a one-element device tensor, read by the kernels on the graph path, so a
// replayed graph sees the current rate.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "crest/config/choices.h"

namespace crest {

enum class SgdKernels { kForeach, kFused, kLoop };

// The kernels train.sgd picks for `device`; throws InputError naming train.sgd when the choice
// cannot run there (fused off CUDA or on a LibTorch without it).
SgdKernels resolve_sgd_kernels(SgdChoice choice, const at::Device& device);
const char* sgd_kernels_name(SgdKernels kernels);
// Whether this build's LibTorch has the fused SGD kernel and the Tensor-lr foreach overloads.
bool sgd_device_lr_supported();

struct SgdGroup {
  std::vector<at::Tensor> params;
  double weight_decay = 0.0;
};

class Sgd {
 public:
  Sgd(std::vector<SgdGroup> groups, double momentum, bool nesterov, SgdKernels kernels);

  // Sets the rate of the next steps; with `on_device` also writes the device copy that
  // step(true) and a replayed CUDA graph read (one small copy a step, so only when asked).
  void set_lr(double lr, bool on_device = false);
  double lr() const { return lr_; }

  // Zeroes every gradient in place; allocates the missing ones (zeros like the parameter,
  // same memory format), so that the gradient tensors never move (CUDA graphs need that).
  void zero_grad();

  // One update. With `device_lr` the rate is read from device memory (graph path; needs
  // sgd_device_lr_supported() and set_lr(lr, true) before it), otherwise it is passed to the
  // kernels as a host scalar.
  void step(bool device_lr = false);

  SgdKernels kernels() const { return kernels_; }

  // Momentum buffers, group by group, parameter by parameter: the tensors the step updates
  // (not copies), so a checkpoint registers them and restores them in place.
  std::vector<at::Tensor> buffers() const;

 private:
  struct Group {
    std::vector<at::Tensor> params;
    std::vector<at::Tensor> buffers;
    double weight_decay;
  };
  std::vector<at::Tensor> grads(const Group& group) const;

  std::vector<Group> groups_;
  double momentum_;
  bool nesterov_;
  SgdKernels kernels_;
  double lr_ = 0.0;
  at::Tensor lr_tensor_;  // float32 scalar on the parameters' device
};

}  // namespace crest
