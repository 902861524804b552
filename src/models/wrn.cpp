#include "crest/models/wrn.h"

#include <ATen/ATen.h>
#include <torch/nn/functional/activation.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "crest/dist/sync_batchnorm.h"
#include "crest/dist/world.h"
#include "crest/util/error.h"

namespace crest {

namespace {

torch::nn::BatchNorm2d make_bn(int channels, const WideResNetOptions& options) {
  return torch::nn::BatchNorm2d(
      torch::nn::BatchNorm2dOptions(channels).momentum(options.bn_momentum).eps(options.bn_eps));
}

torch::nn::Conv2d make_conv(int in, int out, int kernel, int stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

at::Tensor leaky(const at::Tensor& x, double slope) { return at::leaky_relu(x, slope); }

// `bn` on `x`: synchronised over the ranks of `world` in training mode when there are several.
at::Tensor apply_bn(torch::nn::BatchNorm2d& bn, const at::Tensor& x, dist::World* world) {
  if (world != nullptr && world->distributed() && bn->is_training()) {
    return dist::sync_batch_norm(x, *bn, *world);
  }
  return bn->forward(x);
}

// Fills `w` from N(0, stddev^2) truncated to [-2 stddev, 2 stddev] by redrawing outliers.
void truncated_normal_(const at::Tensor& w, double stddev, at::Generator& generator) {
  at::Tensor draw = at::empty_like(w).normal_(0.0, 1.0, generator);
  for (at::Tensor outside = draw.abs() > 2.0; outside.any().item<bool>();
       outside = draw.abs() > 2.0) {
    at::Tensor redraw = at::empty_like(draw).normal_(0.0, 1.0, generator);
    draw = at::where(outside, redraw, draw);
  }
  w.copy_(draw * stddev);
}

}  // namespace

WideResNetBlockImpl::WideResNetBlockImpl(int in_channels, int out_channels, int stride,
                                         bool first_of_stage, const WideResNetOptions& options)
    : slope_(options.leaky_slope), shortcut_from_preact_(first_of_stage) {
  bn1_ = register_module("bn1", make_bn(in_channels, options));
  conv1_ = register_module("conv1", make_conv(in_channels, out_channels, 3, stride));
  bn2_ = register_module("bn2", make_bn(out_channels, options));
  conv2_ = register_module("conv2", make_conv(out_channels, out_channels, 3, 1));
  if (in_channels != out_channels) {
    shortcut_ = register_module("shortcut", make_conv(in_channels, out_channels, 1, stride));
  }
}

at::Tensor WideResNetBlockImpl::forward(const at::Tensor& x) {
  const at::Tensor preact = leaky(apply_bn(bn1_, x, sync_world_), slope_);
  at::Tensor shortcut = shortcut_from_preact_ ? preact : x;
  if (shortcut_) shortcut = shortcut_->forward(shortcut);
  at::Tensor out = conv1_->forward(preact);
  out = conv2_->forward(leaky(apply_bn(bn2_, out, sync_world_), slope_));
  return out + shortcut;
}

WideResNetImpl::WideResNetImpl(const WideResNetOptions& options) : options_(options) {
  if (options.depth < 10 || (options.depth - 4) % 6 != 0) {
    throw InputError("model.depth must be 6n + 4 with n >= 1 (10, 16, 22, 28, ...), got " +
                     std::to_string(options.depth));
  }
  if (options.width < 1) {
    throw InputError("model.width must be >= 1, got " + std::to_string(options.width));
  }
  if (options.num_classes < 2) {
    throw InputError("a classifier needs at least 2 classes, got " +
                     std::to_string(options.num_classes));
  }
  const int blocks_per_stage = (options.depth - 4) / 6;
  stem_ = register_module("stem", make_conv(3, 16, 3, 1));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  int channels = 16;
  for (int stage = 0; stage < 3; ++stage) {
    const int out = (16 << stage) * options.width;
    for (int b = 0; b < blocks_per_stage; ++b) {
      const int stride = (b == 0 && stage > 0) ? 2 : 1;
      blocks_->push_back(WideResNetBlock(channels, out, stride, b == 0, options));
      channels = out;
    }
  }
  bn_ = register_module("bn", make_bn(channels, options));
  fc_ = register_module("fc", torch::nn::Linear(channels, options.num_classes));
  if (options.balanced_head) {
    fc_balanced_ = register_module("fc_balanced", torch::nn::Linear(channels, options.num_classes));
  }
  if (options.embedding_dim < 0) {
    throw InputError("dmlpl.embedding_dim must be >= 1, got " +
                     std::to_string(options.embedding_dim));
  }
  if (options.embedding_dim > 0) {
    fc_embedding_ =
        register_module("fc_embedding", torch::nn::Linear(channels, options.embedding_dim));
  }
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  initialize_wide_resnet(*this, generator);
}

at::Tensor WideResNetImpl::features(const at::Tensor& x) {
  at::Tensor out = stem_->forward(x);
  for (const auto& block : *blocks_) out = block->as<WideResNetBlock>()->forward(out);
  out = leaky(apply_bn(bn_, out, sync_world_), options_.leaky_slope);
  return out.mean({2, 3});
}

at::Tensor WideResNetImpl::classify(const at::Tensor& features) { return fc_->forward(features); }

at::Tensor WideResNetImpl::classify_balanced(const at::Tensor& features) {
  if (!fc_balanced_) throw std::logic_error("this WideResNet has no balanced head");
  return fc_balanced_->forward(features);
}

at::Tensor WideResNetImpl::embed(const at::Tensor& features) {
  if (!fc_embedding_) throw std::logic_error("this WideResNet has no embedding head");
  const at::Tensor e = fc_embedding_->forward(features);
  // at::normalize's rule: x / max(||x||, eps), so a zero row has no NaN gradient.
  return e / e.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12);
}

at::Tensor WideResNetImpl::forward(const at::Tensor& x) {
  const at::Tensor pooled = features(x);
  return fc_balanced_ ? fc_balanced_->forward(pooled) : fc_->forward(pooled);
}

void WideResNetImpl::set_batchnorm_sync(dist::World* world) {
  sync_world_ = world;
  for (const auto& block : *blocks_) block->as<WideResNetBlock>()->set_batchnorm_sync(world);
}

std::int64_t parameter_count(const torch::nn::Module& module) {
  std::int64_t count = 0;
  for (const auto& p : module.parameters()) count += p.numel();
  return count;
}

void initialize_wide_resnet(WideResNetImpl& model, at::Generator& generator) {
  at::NoGradGuard no_grad;
  for (auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    torch::nn::Module& module = *item.value();
    if (auto* conv = module.as<torch::nn::Conv2dImpl>()) {
      // Keras VarianceScaling(scale=2, mode='fan_out', distribution='truncated_normal'):
      // a normal truncated at two standard deviations, its stddev corrected by 0.8796 so the
      // variance is 2 / fan_out.
      const auto& w = conv->weight;
      const double fan_out = static_cast<double>(w.size(0) * w.size(2) * w.size(3));
      truncated_normal_(w, std::sqrt(2.0 / fan_out) / 0.87962566103423978, generator);
    } else if (auto* linear = module.as<torch::nn::LinearImpl>()) {
      // Glorot-uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)); zero bias.
      const auto& w = linear->weight;
      const double a = std::sqrt(6.0 / static_cast<double>(w.size(0) + w.size(1)));
      w.uniform_(-a, a, generator);
      linear->bias.zero_();
    } else if (auto* bn = module.as<torch::nn::BatchNorm2dImpl>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    }
  }
}

}  // namespace crest
