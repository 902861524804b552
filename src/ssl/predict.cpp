#include "crest/ssl/predict.h"

#include <vector>

namespace crest {

at::Tensor normalize_images(const at::Tensor& images) {
  return images.to(at::kFloat).mul_(2.0 / 255.0).sub_(1.0);
}

void to_channels_last(torch::nn::Module& module) {
  at::NoGradGuard no_grad;
  for (auto& p : module.parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
  }
}

bool is_channels_last(torch::nn::Module& module) {
  for (const auto& p : module.parameters()) {
    if (p.dim() == 4) {
      return !p.is_contiguous() && p.is_contiguous(at::MemoryFormat::ChannelsLast);
    }
  }
  return false;
}

at::Tensor predict_logits(WideResNet& model, const at::Tensor& images, int batch_size) {
  at::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  const at::Device device = model->parameters().front().device();
  const bool channels_last = is_channels_last(*model);
  std::vector<at::Tensor> outputs;
  for (std::int64_t start = 0; start < images.size(0); start += batch_size) {
    const std::int64_t count = std::min<std::int64_t>(batch_size, images.size(0) - start);
    at::Tensor batch = normalize_images(images.narrow(0, start, count).to(device));
    if (channels_last) batch = batch.contiguous(at::MemoryFormat::ChannelsLast);
    outputs.push_back(model->forward(batch));
  }
  model->train(was_training);
  if (outputs.empty()) {
    return at::empty({0, model->options().num_classes},
                     at::TensorOptions().dtype(at::kFloat).device(device));
  }
  return at::cat(outputs);
}

}  // namespace crest
