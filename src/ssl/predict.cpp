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

namespace {

// `head` of the model's outputs for `images` in batches (eval mode, no grad, fp32); an empty
// [0, width] tensor for no images.
template <typename Head>
at::Tensor predict_batched(WideResNet& model, const at::Tensor& images, int batch_size,
                           std::int64_t width, Head head) {
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
    outputs.push_back(head(batch));
  }
  model->train(was_training);
  if (outputs.empty()) {
    return at::empty({0, width}, at::TensorOptions().dtype(at::kFloat).device(device));
  }
  return at::cat(outputs);
}

}  // namespace

at::Tensor predict_logits(WideResNet& model, const at::Tensor& images, int batch_size) {
  return predict_batched(model, images, batch_size, model->options().num_classes,
                         [&](const at::Tensor& batch) { return model->forward(batch); });
}

at::Tensor predict_embeddings(WideResNet& model, const at::Tensor& images, int batch_size) {
  const int embedding = model->options().embedding_dim;
  const std::int64_t width = embedding > 0 ? embedding : 64 * model->options().width;
  return predict_batched(model, images, batch_size, width, [&](const at::Tensor& batch) {
    const at::Tensor features = model->features(batch);
    if (embedding > 0) return model->embed(features);
    return features / features.norm(2, {1}, true).clamp_min(1e-12);
  });
}

}  // namespace crest
