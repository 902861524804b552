// The tensors a run keeps on its device for all generations: the long-tailed training images
// and labels, the test set, and where the labeled and unlabeled-only images sit among them.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "crest/data/prepare.h"
#include "crest/ssl/trainer.h"

namespace crest {

struct RunData {
  std::vector<std::int64_t> lt;                 // source indices of the LT set, ascending
  std::vector<std::int64_t> lt_labels;          // their true labels (kUnknownLabel: unknown)
  std::vector<std::string> files;               // their files relative to data.root, or empty
  std::vector<std::int64_t> labeled_positions;  // positions (into lt) of the labeled set
  std::vector<std::int64_t> unlabeled_only;     // positions of the unlabeled-only images
  at::Tensor images;                            // uint8 [|lt|, 3, H, W] on the device
  at::Tensor labels;                            // int64 [|lt|] on the device
  at::Tensor test_images;
  at::Tensor test_labels;
  at::Tensor val_images;  // a val set read from files (ROOT/val); undefined when none
  at::Tensor val_labels;
  std::vector<std::string> class_names;
  bool truth_known = true;  // every image of the LT set has a known (hidden) label
  // data.protocol acr: the reference's unlabeled set holds the labeled images too (marked -2 and
  // skipped by ACR's estimate), so generation_data marks them in the unlabeled stream.
  bool unlabeled_includes_labeled = false;

  int num_classes() const { return static_cast<int>(class_names.size()); }
  // Position in `lt` of a source index (which must belong to the LT set).
  std::int64_t position_of(std::int64_t source) const;
};

RunData make_run_data(const PreparedData& prepared, at::Device device);

// One generation's TrainingData: labeled `positions` with `targets` (true or pseudo labels);
// the unlabeled stream is the whole LT set, as in FixMatch, with its true labels for monitoring
// where all are known; the prior for logit adjustment is the targets' class distribution. Under
// data.protocol acr, unlabeled_is_labeled marks the split's labeled images (run.labeled_positions,
// pseudo-labels not included) in that stream.
TrainingData generation_data(const RunData& run, const std::vector<std::int64_t>& positions,
                             const std::vector<std::int64_t>& targets);

std::vector<std::int64_t> count_by_class(const std::vector<std::int64_t>& labels, int classes);

at::Tensor long_tensor(const std::vector<std::int64_t>& values, at::Device device);

}  // namespace crest
