#include "crest/dist/sync_batchnorm.h"

#include <torch/csrc/autograd/custom_function.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace crest::dist {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Sum over the ranks forward, sum of the gradients over the ranks backward.
struct AllReduceSum : public torch::autograd::Function<AllReduceSum> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& local, World* world) {
    // The context keeps IValues only: the world (a process-long object) travels as its address.
    ctx->saved_data["world"] = static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(world));
    at::Tensor global = local.detach().clone();
    world->all_reduce_sum(global);
    return global;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto* world =
        reinterpret_cast<World*>(static_cast<std::intptr_t>(ctx->saved_data["world"].toInt()));
    // Autograd materialises a missing gradient as zeros, so every rank takes part.
    at::Tensor sum = grads[0].clone(at::MemoryFormat::Contiguous);
    world->all_reduce_sum(sum);
    return {sum, at::Tensor()};
  }
};

// Moves bn's running statistics toward the global batch's (torch's rule: momentum, or the
// cumulative average when the momentum is unset; the variance unbiased with the global count).
void update_running_stats(torch::nn::BatchNorm2dImpl& bn, const at::Tensor& mean,
                          const at::Tensor& var, const at::Tensor& count) {
  if (!bn.options.track_running_stats()) return;
  at::NoGradGuard no_grad;
  bn.num_batches_tracked.add_(1);
  const double momentum = bn.options.momentum().has_value()
                              ? *bn.options.momentum()
                              : 1.0 / bn.num_batches_tracked.item<double>();
  const at::Tensor unbiased = var * count / (count - 1.0);
  bn.running_mean.mul_(1.0 - momentum).add_(mean.to(bn.running_mean.scalar_type()), momentum);
  bn.running_var.mul_(1.0 - momentum).add_(unbiased.to(bn.running_var.scalar_type()), momentum);
}

}  // namespace

at::Tensor all_reduce_with_gradient(const at::Tensor& local, World& world) {
  return AllReduceSum::apply(local, &world);
}

at::Tensor sync_batch_norm(const at::Tensor& x, torch::nn::BatchNorm2dImpl& bn, World& world) {
  const std::int64_t channels = bn.options.num_features();
  if (x.dim() != 4 || x.size(1) != channels) {
    throw std::invalid_argument("sync_batch_norm: expected an input [N, " +
                                std::to_string(channels) + ", H, W], got " +
                                std::to_string(x.dim()) + " dimensions");
  }
  // bf16 (autocast) computes in float32; float32 and float64 in their own precision.
  const at::Tensor xf = x.scalar_type() == at::kDouble ? x : x.to(at::kFloat);
  const std::vector<std::int64_t> dims = {0, 2, 3};
  // Per channel sum x, sum x^2 (float64 accumulation: var = E[x^2] - E[x]^2 stays accurate), and
  // this rank's row count, in one message.
  const at::Tensor count = at::full({1}, static_cast<double>(x.size(0) * x.size(2) * x.size(3)),
                                    xf.options().dtype(at::kDouble));
  const at::Tensor local = at::cat({xf.sum(dims, /*keepdim=*/false, at::kDouble),
                                    xf.square().sum(dims, /*keepdim=*/false, at::kDouble), count});
  const at::Tensor global = all_reduce_with_gradient(local, world);
  const at::Tensor n = global.narrow(0, 2 * channels, 1).detach();
  const at::Tensor mean = global.narrow(0, 0, channels) / n;
  const at::Tensor var = (global.narrow(0, channels, channels) / n - mean.square()).clamp_min(0.0);
  update_running_stats(bn, mean.detach(), var.detach(), n);
  // y = x * scale + shift with scale = weight / sqrt(var + eps), shift = bias - mean * scale.
  at::Tensor scale = (var + bn.options.eps()).rsqrt();
  if (bn.options.affine()) scale = scale * bn.weight;
  at::Tensor shift = -mean * scale;
  if (bn.options.affine()) shift = shift + bn.bias;
  const std::vector<std::int64_t> shape = {1, channels, 1, 1};
  const at::Tensor y =
      xf * scale.to(xf.scalar_type()).view(shape) + shift.to(xf.scalar_type()).view(shape);
  return y.to(x.scalar_type());
}

}  // namespace crest::dist
