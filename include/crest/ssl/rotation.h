// Self-supervised pre-training by rotation prediction (RotNet: Gidaris et al., "Unsupervised
// Representation Learning by Predicting Image Rotations", ICLR 2018), as "Rethinking the Value
// of Labels for Improving Class-Imbalanced Learning" (Yang and Xu, NeurIPS 2020) runs it before
// imbalanced learning (their pretrain_rot.py and utils.py): every training image, labels
// unused; a random crop and flip, then a rotation by 0, 90, 180 or 270 degrees, balanced over
// the batch; a 4-way classifier on the WRN backbone; SGD with a linear warm-up and one drop.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "crest/config/config.h"
#include "crest/io/sink.h"
#include "crest/models/wrn.h"

namespace crest {

inline constexpr int kRotations = 4;

// images float or uint8 [N, C, S, S] (square), rotations int64 [N] in 0..3: image n turned by
// rotations[n] * 90 degrees counter-clockwise (torch.rot90(x, k, dims=(2, 3)) per image).
// No host synchronisation. InputError for non-square images.
at::Tensor rotate_images(const at::Tensor& images, const at::Tensor& rotations);

// n rotations, int64 [n]: the first n of a random permutation of [0, 1, 2, 3] repeated
// ceil(n / 4) times, so each occurs exactly n / 4 times when 4 divides n (utils.rotation of the
// Rethinking release repeats floor(n / 4) + 1 times, which is balanced only up to a few).
at::Tensor balanced_rotations(std::int64_t n, at::Generator& generator, at::Device device);

// The rate at `step` of `total_steps`: lr * (step + 1) / warmup_steps during the warm-up
// (warmup_steps = max(1, round(warmup * total))), lr until decay_at * total, then
// lr * decay_factor (Rethinking: 5 warm-up epochs of 200, x0.01 after epoch 160).
double pretrain_lr(const PretrainConfig& pretrain, std::int64_t step, std::int64_t total_steps);

struct PretrainSettings {
  ModelConfig model;
  PretrainConfig pretrain;
  std::int64_t seed = 0;
  int checkpoint_every = 0;  // steps; 0 = only at the end
  int eval_batch_size = 1000;
  // Where the records go (io/sink.h); not owned. Null: out_dir alone, written by rank 0.
  RunSink* sink = nullptr;
};

struct PretrainOutcome {
  std::int64_t steps = 0;
  double test_rotation_accuracy = 0.0;  // all four rotations of every test image
  double seconds = 0.0;                 // this process's share
  std::string backbone_fingerprint;     // models/wrn_weights.h
};

// Trains a WRN with a 4-way head on `images` (uint8 [N, 3, S, S] on the training device) to
// predict their rotation, evaluating on every rotation of `test_images` each epoch: a learner
// (RotationLearner) in the one training loop and step engine (ssl/training_loop.h,
// ssl/engine.h), so it is data-parallel like a generation (each rank draws
// pretrain.batch_size / world size images; InputError when that does not divide).
// out_dir gets metrics.jsonl (one PretrainLine per epoch), checkpoint.pt (model, SGD momentum,
// sampler, generator: a resume continues bit for bit on the CPU), and at the end backbone.pt
// (the backbone under PyTorch's WRN names, fc left out) with backbone.pt.json.
class RotationPretrainer {
 public:
  RotationPretrainer(PretrainSettings settings, at::Device device, at::Tensor images,
                     at::Tensor test_images, std::filesystem::path out_dir);
  // Throws Interrupted after checkpointing when a stop was requested, TrainingDiverged on a
  // non-finite loss or weight (keeping the last good checkpoint), WriteError on a failed write.
  PretrainOutcome run(bool resume);
  ~RotationPretrainer();
  RotationPretrainer(const RotationPretrainer&) = delete;
  RotationPretrainer& operator=(const RotationPretrainer&) = delete;
  std::int64_t total_steps() const;
  WideResNet& model();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crest
