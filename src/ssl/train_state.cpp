#include "crest/ssl/train_state.h"

#include <torch/nn/modules/batchnorm.h>

#include <mutex>
#include <string>
#include <unordered_set>

namespace crest {

at::Generator make_generator(at::Device device, std::uint64_t seed) {
  at::Generator generator = at::globalContext().defaultGenerator(device).clone();
  generator.set_current_seed(seed);
  return generator;
}

at::Tensor read_generator_state(at::Generator& generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_generator_state(at::Generator& generator, const at::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

std::shared_ptr<torch::nn::Module> momentum_module(const std::vector<at::Tensor>& buffers) {
  auto optimizer = std::make_shared<torch::nn::Module>("Sgd");
  for (std::size_t k = 0; k < buffers.size(); ++k) {
    auto slot = std::make_shared<torch::nn::Module>("MomentumState");
    slot->register_buffer("momentum_buffer", buffers[k]);
    optimizer->register_module(std::to_string(k), slot);
  }
  return optimizer;
}

std::vector<SgdGroup> sgd_groups_without_bn_decay(torch::nn::Module& model, double weight_decay,
                                                  const std::vector<at::Tensor>& also_exempt) {
  std::unordered_set<const void*> bn_params;
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (module->as<torch::nn::BatchNorm2dImpl>() != nullptr) {
      for (const auto& p : module->parameters(/*recurse=*/false))
        bn_params.insert(p.unsafeGetTensorImpl());
    }
  }
  std::unordered_set<const void*> exempt;
  for (const auto& p : also_exempt) exempt.insert(p.unsafeGetTensorImpl());
  std::vector<SgdGroup> groups(2);
  groups[0].weight_decay = weight_decay;
  std::vector<at::Tensor> exempt_params;
  for (const auto& p : model.parameters()) {
    if (exempt.count(p.unsafeGetTensorImpl()) != 0) {
      exempt_params.push_back(p);
    } else {
      groups[bn_params.count(p.unsafeGetTensorImpl()) ? 1 : 0].params.push_back(p);
    }
  }
  groups[1].params.insert(groups[1].params.end(), exempt_params.begin(), exempt_params.end());
  return groups;
}

}  // namespace crest
