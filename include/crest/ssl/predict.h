// Inference with a WideResNet outside the training step: normalisation, memory format, and the
// batched fp32 logits that evaluation, pseudo-labelling and `crest bench` use.
#pragma once

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "crest/models/wrn.h"

namespace crest {

// Logits of `model` (eval mode, no grad) for uint8 images [N, 3, H, W], in batches, float32
// [N, C] on the model's device. Always fp32, whatever train.amp says: bf16 autocast covers the
// training step only, because bf16's 8-bit mantissa rounds near-tied logits (5.0 vs 5.01) to a
// tie, and argmax then picks the lower class index, the head class (the reference evaluates and
// pseudo-labels in fp32).
at::Tensor predict_logits(WideResNet& model, const at::Tensor& images, int batch_size);

// The unit-length embeddings crest.selection knn compares (selftrain/knn_selection.h), float32
// [N, E] on the model's device, for uint8 images [N, 3, H, W] in batches (eval mode, no grad,
// fp32 as predict_logits): the embedding head's output when the model has one (train.algorithm
// dmlpl: fc_embedding, E = dmlpl.embedding_dim), else the pooled features (E = 64 * width)
// divided by their norm.
at::Tensor predict_embeddings(WideResNet& model, const at::Tensor& images, int batch_size);

// uint8 [N, 3, H, W] -> float in [-1, 1] (the reference's x * 2/255 - 1).
at::Tensor normalize_images(const at::Tensor& images);

// Converts the 4-D weights (convolutions) of `module` to channels-last memory in place; and
// whether they are in it (predict_logits then feeds it channels-last batches).
void to_channels_last(torch::nn::Module& module);
bool is_channels_last(torch::nn::Module& module);

}  // namespace crest
