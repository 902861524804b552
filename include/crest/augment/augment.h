// FixMatch's weak and strong augmentations, batched, as the CReST reference runs them
// (data/augment.py, shortcut "dhrac": pad-crop, hflip, RandAugment, Cutout).
//
//   weak:   reflect-pad 4, random 32x32 crop, random horizontal flip;
//   strong: weak, then RandAugment (2 layers; each layer picks one of 16 ops uniformly, applies
//           it with probability 0.5 at a magnitude m ~ U[0, 1) drawn per layer and image), then
//           Cutout (always; 16x16 at a random centre, clipped at the borders, mid-gray).
//
// Every image of a batch gets its own draws. Randomness comes only from the generator passed in
// (a CPU generator for CPU images, a CUDA one for CUDA images): the same generator state gives
// the same output. A generator must not be used from two threads at once.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "crest/augment/ops.h"

namespace crest {

struct AugmentOptions {
  int pad = 4;       // reflect padding before the random crop (the trainer uses side / 8)
  bool flip = true;  // random horizontal flip
  int randaugment_layers = 2;
  double randaugment_prob = 0.5;  // probability that a layer acts on an image
  int cutout_size = 16;           // side of the Cutout square (0: no Cutout; trainer: side / 2)
  int fill = 128;                 // gray fill of the geometric ops and of Cutout
};

// uint8 [N, 3, H, W] -> uint8 [N, 3, H, W], on images.device(); `generator` must be on that
// device. Throws std::invalid_argument on other shapes, types or devices.
at::Tensor weak_augment(const at::Tensor& images, at::Generator& generator,
                        const AugmentOptions& options = {});
// Weak, RandAugment, Cutout.
at::Tensor strong_augment(const at::Tensor& images, at::Generator& generator,
                          const AugmentOptions& options = {});

// One RandAugment layer's draws for a batch, all [N] on the images' device.
struct RandAugmentLayer {
  at::Tensor op;         // int64, index of an augment_ops::Op, uniform over the 16
  at::Tensor apply;      // bool, true with probability randaugment_prob
  at::Tensor magnitude;  // float32, m ~ U[0, 1)
  at::Tensor sign;       // float32, +1 or -1 with probability 1/2 each (geometric ops)
};

// The draws of `options.randaugment_layers` layers for `count` images.
std::vector<RandAugmentLayer> draw_randaugment(std::int64_t count, at::Generator& generator,
                                               const AugmentOptions& options, at::Device device);

// Applies drawn layers in order, each with one augment_ops::apply_ops call (see Dispatch: by
// default grouped on the CPU, masked and free of host synchronisation on a GPU).
at::Tensor apply_randaugment(const at::Tensor& images, const std::vector<RandAugmentLayer>& layers,
                             int fill,
                             augment_ops::Dispatch dispatch = augment_ops::Dispatch::kAuto);

// RandAugment with fresh draws.
at::Tensor randaugment(const at::Tensor& images, at::Generator& generator,
                       const AugmentOptions& options = {});

// Cutout at a random centre: per axis round(U[0, side)), as the reference's CutOut draws it.
at::Tensor random_cutout(const at::Tensor& images, at::Generator& generator,
                         const AugmentOptions& options = {});

}  // namespace crest
