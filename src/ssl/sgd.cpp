#include "crest/ssl/sgd.h"

#include <ATen/core/grad_mode.h>

#include <string>

#include "crest/util/error.h"
#include "crest/util/torch_version.h"

namespace crest {

namespace {

// The foreach overloads taking a Tensor scalar, and _fused_sgd_ with a Tensor lr.
constexpr bool kDeviceLr = CREST_TORCH_AT_LEAST(2, 3);

}  // namespace

bool sgd_device_lr_supported() { return kDeviceLr; }

SgdKernels resolve_sgd_kernels(SgdChoice choice, const at::Device& device) {
  switch (choice) {
    case SgdChoice::kForeach:
      return SgdKernels::kForeach;
    case SgdChoice::kLoop:
      return SgdKernels::kLoop;
    case SgdChoice::kFused:
      if (!device.is_cuda()) {
        throw InputError("train.sgd=fused needs a CUDA device (run.device is " + device.str() +
                         "); use foreach or auto");
      }
      if (!kDeviceLr) {
        throw InputError("train.sgd=fused needs LibTorch >= 2.3 (this build has " +
                         std::string(TORCH_VERSION) + "); use foreach or auto");
      }
      return SgdKernels::kFused;
    case SgdChoice::kAuto:
      return device.is_cuda() && kDeviceLr ? SgdKernels::kFused : SgdKernels::kForeach;
  }
  return SgdKernels::kForeach;
}

const char* sgd_kernels_name(SgdKernels kernels) {
  switch (kernels) {
    case SgdKernels::kForeach:
      return "foreach";
    case SgdKernels::kFused:
      return "fused";
    case SgdKernels::kLoop:
      return "loop";
  }
  return "?";
}

Sgd::Sgd(std::vector<SgdGroup> groups, double momentum, bool nesterov, SgdKernels kernels)
    : momentum_(momentum), nesterov_(nesterov), kernels_(kernels) {
  at::NoGradGuard no_grad;
  at::Device device = at::kCPU;
  for (auto& g : groups) {
    if (g.params.empty()) continue;
    Group group;
    group.weight_decay = g.weight_decay;
    for (const auto& p : g.params) {
      group.buffers.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
      device = p.device();
    }
    group.params = std::move(g.params);
    groups_.push_back(std::move(group));
  }
  lr_tensor_ = at::zeros({}, at::TensorOptions().dtype(at::kFloat).device(device));
}

void Sgd::set_lr(double lr, bool on_device) {
  lr_ = lr;
  if (on_device) lr_tensor_.fill_(lr);
}

void Sgd::zero_grad() {
  at::NoGradGuard no_grad;
  for (auto& group : groups_) {
    std::vector<at::Tensor> existing;
    for (auto& p : group.params) {
      if (p.grad().defined()) {
        existing.push_back(p.mutable_grad());
      } else {
        p.mutable_grad() = at::zeros_like(p, at::MemoryFormat::Preserve);
      }
    }
    if (!existing.empty()) at::_foreach_zero_(existing);
  }
}

std::vector<at::Tensor> Sgd::grads(const Group& group) const {
  std::vector<at::Tensor> out;
  out.reserve(group.params.size());
  for (const auto& p : group.params) {
    if (!p.grad().defined()) {
      throw std::logic_error("Sgd::step: a parameter has no gradient; call zero_grad() first");
    }
    out.push_back(p.grad());
  }
  return out;
}

void Sgd::step(bool device_lr) {
  at::NoGradGuard no_grad;
  if (device_lr && !kDeviceLr && kernels_ != SgdKernels::kLoop) {
    throw std::logic_error("Sgd::step(device_lr) with multi-tensor kernels needs LibTorch >= 2.3");
  }
  for (auto& group : groups_) {
    const std::vector<at::Tensor> g = grads(group);
    const double wd = group.weight_decay;
    switch (kernels_) {
      case SgdKernels::kFused: {
#if CREST_TORCH_AT_LEAST(2, 3)
        if (device_lr) {
          at::_fused_sgd_(group.params, g, group.buffers, wd, momentum_, lr_tensor_, 0.0, nesterov_,
                          /*maximize=*/false, /*is_first_step=*/false);
        } else {
          at::_fused_sgd_(group.params, g, group.buffers, wd, momentum_, lr_, 0.0, nesterov_,
                          /*maximize=*/false, /*is_first_step=*/false);
        }
#else
        throw std::logic_error("fused SGD needs LibTorch >= 2.3");
#endif
        break;
      }
      case SgdKernels::kForeach: {
        std::vector<at::Tensor> d = wd != 0.0 ? at::_foreach_add(g, group.params, wd) : g;
        at::_foreach_mul_(group.buffers, momentum_);
        at::_foreach_add_(group.buffers, d);
        d = nesterov_ ? at::_foreach_add(d, group.buffers, momentum_) : group.buffers;
        if (device_lr) {
#if CREST_TORCH_AT_LEAST(2, 3)
          at::_foreach_sub_(group.params, at::_foreach_mul(d, lr_tensor_));
#endif
        } else {
          at::_foreach_add_(group.params, d, -lr_);
        }
        break;
      }
      case SgdKernels::kLoop: {
        for (std::size_t i = 0; i < group.params.size(); ++i) {
          at::Tensor d = wd != 0.0 ? g[i].add(group.params[i], wd) : g[i];
          at::Tensor& buf = group.buffers[i];
          buf.mul_(momentum_).add_(d);
          d = nesterov_ ? d.add(buf, momentum_) : buf;
          if (device_lr) {
            group.params[i].sub_(d * lr_tensor_);
          } else {
            group.params[i].add_(d, -lr_);
          }
        }
        break;
      }
    }
  }
}

std::vector<at::Tensor> Sgd::buffers() const {
  std::vector<at::Tensor> out;
  for (const auto& group : groups_)
    out.insert(out.end(), group.buffers.begin(), group.buffers.end());
  return out;
}

}  // namespace crest
