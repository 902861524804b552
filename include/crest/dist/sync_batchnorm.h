// Synchronised BatchNorm for data-parallel training (train.sync_bn), as PyTorch's
// torch.nn.SyncBatchNorm (torch/nn/modules/_functions.py) computes it, which LibTorch's C++ API
// lacks: in training mode every rank normalises with the mean and variance of the global batch
// (every rank's rows together), so that N ranks compute what one process computes on the
// concatenated batch, up to float rounding.
//
// Forward: each rank's per-channel [sum x, sum x^2, count] (sums accumulated in float64) are
// summed over the ranks in one all-reduce; mean = S1 / n, var = S2 / n - mean^2 (biased, as
// the normalisation uses), y = (x - mean) / sqrt(var + eps) * weight + bias. Backward: autograd
// through those formulas, with the gradient of the summed statistics all-reduced (summed) over
// the ranks, so each rank's input gradient carries every rank's dependence on its rows. With the
// gradients of the parameters then averaged (dist/gradient_reducer.h), the update is the
// single-process update of the global batch. Running statistics move toward the global mean and
// the unbiased global variance var * n / (n - 1) with the layer's momentum, as torch's.
//
// Every rank must run the same forward and backward passes (the statistics are collectives), so
// the WRN uses this only in training mode and only where the world has several ranks; a world of
// one rank keeps plain BatchNorm2d (models/wrn.h). Each layer costs two small all-reduces a step
// (forward and backward, 2C + 1 float64 values), which also keeps the step out of a CUDA graph
// (the engine already runs multi-rank steps eagerly).
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/modules/batchnorm.h>

#include "crest/dist/world.h"

namespace crest::dist {

// The sum of `local` over the ranks of `world` as an autograd function: the forward returns the
// sum (a new tensor, same shape, dtype and device), the backward all-reduces the incoming
// gradient, so that each rank's `local` receives the gradient of every rank's use of the sum.
// Collective in both directions; std::runtime_error when a peer is gone (World).
at::Tensor all_reduce_with_gradient(const at::Tensor& local, World& world);

// `bn` (affine, running statistics and momentum as its options say) applied to x float32, float64
// or bf16 (computed in float32) [N, C, H, W] (any memory format) with the batch statistics of every
// rank's x together; the result has x's shape and dtype. Updates bn's running_mean, running_var and
// num_batches_tracked from the global statistics. Meant for training mode; collective.
// std::invalid_argument when x is not 4-D or its channel count is not bn's.
at::Tensor sync_batch_norm(const at::Tensor& x, torch::nn::BatchNorm2dImpl& bn, World& world);

}  // namespace crest::dist
