// A procedurally generated image dataset for tests, smoke runs and the quickstart:
// each class has its own shape and colour scheme, drawn at random positions, scales and
// orientations over textured, noisy backgrounds, so that it is learnable but not trivial.
// Deterministic by seed and independent of the platform's standard library.
#pragma once

#include <cstdint>

#include "crest/data/dataset.h"

namespace crest {

struct SyntheticOptions {
  int num_classes = 10;
  int train_per_class = 500;
  int test_per_class = 100;
  std::uint64_t seed = 0;
  int image_size = 32;
};

// Train and test sets, uint8 [N, 3, S, S]; images ordered class-interleaved (one of each class,
// then the next), like the CIFAR batches. Class names "class_0", ... unless 10 classes or
// fewer, which get descriptive names. Throws InputError unless num_classes is in [2, 1000],
// both per-class counts are at least 1 and image_size is in [8, 256].
DatasetPair make_synthetic(const SyntheticOptions& options);

}  // namespace crest
