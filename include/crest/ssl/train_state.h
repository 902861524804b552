// Pieces every crest learner's resumable state is made of (the FixMatch trainer and the
// rotation pre-trainer): seeded random generators whose state a checkpoint carries, the SGD
// momentum buffers as a module tree, and the SGD parameter groups with BatchNorm exempt from
// weight decay.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "crest/ssl/sgd.h"

namespace crest {

// A generator of `device`'s kind seeded with `seed`, independent of the global one.
at::Generator make_generator(at::Device device, std::uint64_t seed);

// The generator's state (uint8), and setting it back (under the generator's lock).
at::Tensor read_generator_state(at::Generator& generator);
void set_generator_state(at::Generator& generator, const at::Tensor& state);

// The SGD momentum buffers as a module tree: optimizer.K.momentum_buffer, K counting the
// parameters group by group (torch.optim's state.K.momentum_buffer).
std::shared_ptr<torch::nn::Module> momentum_module(const std::vector<at::Tensor>& buffers);

// Two SGD groups of `model`'s parameters: every weight but BatchNorm's with `weight_decay`,
// then BatchNorm's scales and shifts without (reference: util.loss_wd skips variables named
// 'bn'; Rethinking the Value of Labels decays every weight, a difference of no consequence).
// The parameters in `also_exempt` (the same tensors as the model's) join the second group, after
// BatchNorm's; with none the groups are as they always were (checkpoints keep their layout).
std::vector<SgdGroup> sgd_groups_without_bn_decay(torch::nn::Module& model, double weight_decay,
                                                  const std::vector<at::Tensor>& also_exempt = {});

}  // namespace crest
