// A dataset in memory: one uint8 image tensor plus int64 labels and class names.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace crest {

// The label of an image whose class is not known (an unlabeled image from a folder).
constexpr std::int64_t kUnknownLabel = -1;

struct Dataset {
  at::Tensor images;  // uint8 [N, C, H, W], contiguous, on the CPU
  at::Tensor labels;  // int64 [N], values in [0, class_names.size()) or kUnknownLabel
  std::vector<std::string> class_names;
  // Per image, its file relative to data.root (datasets read from image files); else empty.
  std::vector<std::string> files = {};

  std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  int num_classes() const { return static_cast<int>(class_names.size()); }
  // Images per class, indexed by label (images of unknown class not counted).
  std::vector<std::int64_t> class_counts() const;
  // Images whose label is kUnknownLabel.
  std::int64_t unknown_count() const;
  // The images, labels and files at `indices`, in that order; class names carried over.
  Dataset subset(const std::vector<std::int64_t>& indices) const;
};

// A training set and its test set, sharing class names. The training set may end with images
// of unknown class (kUnknownLabel: an unlabeled pool read from files), after every labeled one;
// `val` is a labeled validation set read from files, empty (size 0) when there is none.
struct DatasetPair {
  Dataset train;
  Dataset test;
  Dataset val = {};
};

// Throws DataError naming `what` if the tensors are malformed (dtype, rank, sizes), a label
// is out of range (kUnknownLabel only where `unknown_allowed`) or `files` has another length.
void check_dataset(const Dataset& dataset, const std::string& what, bool unknown_allowed = false);

// `a` followed by `b` (same image shape and class names).
Dataset concatenate(const Dataset& a, const Dataset& b);

// The default CIFAR class names, in label order (the official batches.meta.txt and the fine
// label names of CIFAR-100's meta file; tests pin both, by count and content).
const std::vector<std::string>& cifar10_class_names();
const std::vector<std::string>& cifar100_class_names();

// The sizes of the official datasets (https://www.cs.toronto.edu/~kriz/cifar.html): a folder
// in the same layout may hold other sizes (`crest data synth`), so they are not enforced.
struct OfficialCounts {
  int classes;
  std::int64_t train_images;
  std::int64_t test_images;
  std::int64_t train_per_class;
  std::int64_t test_per_class;
};
const OfficialCounts& cifar10_official_counts();
const OfficialCounts& cifar100_official_counts();

}  // namespace crest
