// Wide ResNet (pre-activation), as the CReST reference builds it (model/resnet_util.py,
// WideResNet + block3):
//   stem: conv3x3, 16 channels, no bias;
//   3 stages of n = (depth - 4) / 6 blocks, widths 16k, 32k, 64k (k = width), strides 1, 2, 2;
//   block: preact = LeakyReLU(BN(x)); out = conv3x3(stride)(preact) -> BN -> LeakyReLU -> conv3x3;
//          shortcut = x, except the first block of a stage, which takes it from preact through a
//          1x1 conv (with the stage's stride) when the channel count changes;
//   head: BN -> LeakyReLU -> global average pool -> linear.
// ACR and SeMi (train.algorithm acr | semi) add a second linear head on the same pooled features,
// `fc_balanced` (ACR's models/wideresnet.py: fc1, read through classify1), trained with a
// logit-adjusted loss; forward() then returns that head's logits, the head those methods
// evaluate.
// DML-PL (train.algorithm dmlpl) adds an embedding head on the pooled features, `fc_embedding`
// (Linear 64 * width -> embedding_dim, crest's choice: the paper publishes no code), read through
// embed() as unit-length vectors for the metric loss and crest.selection knn; forward() still
// returns fc's logits.
// BatchNorm momentum 0.001 in PyTorch terms (Keras 0.999), epsilon 1e-3; leaky slope 0.1;
// conv weights He-normal with fan_out, truncated at 2 sigma (Keras VarianceScaling(2.0,
// 'fan_out')), linear
// Glorot-uniform with zero bias (Keras Dense defaults), BN weight 1 and bias 0.
// WRN-28-2 with 10 classes has 1,467,610 parameters.
//
// BatchNorm in training mode normalises with the batch statistics of this process, or, after
// set_batchnorm_sync(world) in a world of several ranks, with those of every rank's batch
// together (train.sync_bn; dist/sync_batchnorm.h). The modules, names and buffers are the same
// either way, so checkpoints and fingerprints do not depend on it.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace crest {

namespace dist {
class World;
}

struct WideResNetOptions {
  int depth = 28;
  int width = 2;
  int num_classes = 10;
  double leaky_slope = 0.1;
  double bn_momentum = 0.001;
  double bn_eps = 1e-3;
  bool balanced_head = false;  // a second head fc_balanced, evaluated by forward() (ACR, SeMi)
  int embedding_dim = 0;       // > 0: an embedding head fc_embedding of this width (DML-PL)
};

class WideResNetBlockImpl : public torch::nn::Module {
 public:
  WideResNetBlockImpl(int in_channels, int out_channels, int stride, bool first_of_stage,
                      const WideResNetOptions& options);
  at::Tensor forward(const at::Tensor& x);
  // See WideResNetImpl::set_batchnorm_sync.
  void set_batchnorm_sync(dist::World* world) { sync_world_ = world; }

 private:
  double slope_;
  bool shortcut_from_preact_;
  dist::World* sync_world_ = nullptr;
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, shortcut_{nullptr};
};
TORCH_MODULE(WideResNetBlock);

class WideResNetImpl : public torch::nn::Module {
 public:
  explicit WideResNetImpl(const WideResNetOptions& options);

  // x: float [N, 3, H, W] in [-1, 1]. Returns logits [N, num_classes] of the evaluated head:
  // fc_balanced when the model has one, else fc.
  at::Tensor forward(const at::Tensor& x);
  // The pooled features [N, 64 * width] that the heads read (after the last BN and LeakyReLU).
  at::Tensor features(const at::Tensor& x);
  // The standard head: logits [N, num_classes] of `features`.
  at::Tensor classify(const at::Tensor& features);
  // The balanced head (fc_balanced): logits [N, num_classes]. Throws std::logic_error when the
  // model has none.
  at::Tensor classify_balanced(const at::Tensor& features);
  // The embedding head (fc_embedding) on `features` [N, 64 * width]: float [N, embedding_dim],
  // each row divided by max(||row||_2, 1e-12) (at::normalize's rule: unit length, a zero row
  // stays zero). Throws std::logic_error when the model has none (embedding_dim 0). For an EMA
  // model's embeddings: ema->embed(ema->features(x)) in eval mode.
  at::Tensor embed(const at::Tensor& features);

  const WideResNetOptions& options() const { return options_; }

  // The classifier head (the final linear layer, "fc").
  torch::nn::Linear& classifier() { return fc_; }

  // Every BatchNorm layer in training mode takes its batch statistics over all ranks of `world`
  // (not owned; it must outlive the model's training), as PyTorch's SyncBatchNorm does; null, or
  // a world of one rank, keeps each process's own statistics (plain BatchNorm2d, bit for bit).
  // In eval mode the running statistics are used either way.
  void set_batchnorm_sync(dist::World* world);

 private:
  WideResNetOptions options_;
  dist::World* sync_world_ = nullptr;
  torch::nn::Conv2d stem_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  torch::nn::BatchNorm2d bn_{nullptr};
  torch::nn::Linear fc_{nullptr};
  torch::nn::Linear fc_balanced_{nullptr};
  torch::nn::Linear fc_embedding_{nullptr};
};
TORCH_MODULE(WideResNet);

// Number of trainable parameters.
std::int64_t parameter_count(const torch::nn::Module& module);

// Re-applies the reference initialisation to every parameter, drawing from `generator`.
void initialize_wide_resnet(WideResNetImpl& model, at::Generator& generator);

}  // namespace crest
