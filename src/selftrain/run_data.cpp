#include "crest/selftrain/run_data.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace crest {

std::int64_t RunData::position_of(std::int64_t source) const {
  return static_cast<std::int64_t>(std::lower_bound(lt.begin(), lt.end(), source) - lt.begin());
}

at::Tensor long_tensor(const std::vector<std::int64_t>& values, at::Device device) {
  return at::tensor(values, at::TensorOptions().dtype(at::kLong)).to(device);
}

std::vector<std::int64_t> count_by_class(const std::vector<std::int64_t>& labels, int classes) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(classes), 0);
  for (std::int64_t y : labels) {
    if (y < 0 || y >= classes) {
      throw std::out_of_range("count_by_class: label " + std::to_string(y) + " outside 0.." +
                              std::to_string(classes - 1));
    }
    ++counts[static_cast<std::size_t>(y)];
  }
  return counts;
}

RunData make_run_data(const PreparedData& prepared, at::Device device) {
  const Dataset& train = prepared.source.train;
  RunData run;
  run.lt = prepared.split.lt_indices;
  run.class_names = train.class_names;
  const at::Tensor index = long_tensor(run.lt, at::kCPU);
  const at::Tensor labels = train.labels.index_select(0, index).contiguous();
  run.lt_labels.assign(labels.data_ptr<std::int64_t>(),
                       labels.data_ptr<std::int64_t>() + labels.numel());
  run.truth_known = std::none_of(run.lt_labels.begin(), run.lt_labels.end(),
                                 [](std::int64_t y) { return y == kUnknownLabel; });
  if (!train.files.empty()) {
    for (std::int64_t s : run.lt) run.files.push_back(train.files[static_cast<std::size_t>(s)]);
  }
  // The LT set is the whole training set under as_is: no copy then.
  const bool everything = static_cast<std::int64_t>(run.lt.size()) == train.size();
  run.images = (everything ? train.images : train.images.index_select(0, index)).to(device);
  run.labels = labels.to(device);
  run.test_images = prepared.source.test.images.to(device);
  run.test_labels = prepared.source.test.labels.to(device);
  if (prepared.source.val.size() > 0) {
    run.val_images = prepared.source.val.images.to(device);
    run.val_labels = prepared.source.val.labels.to(device);
  }
  for (std::int64_t s : prepared.split.labeled) run.labeled_positions.push_back(run.position_of(s));
  for (std::int64_t s : prepared.split.unlabeled) run.unlabeled_only.push_back(run.position_of(s));
  run.unlabeled_includes_labeled = prepared.protocol == SplitProtocol::kAcr;
  return run;
}

TrainingData generation_data(const RunData& run, const std::vector<std::int64_t>& positions,
                             const std::vector<std::int64_t>& targets) {
  const at::Device device = run.images.device();
  TrainingData data;
  data.images = run.images;
  data.labeled_index = long_tensor(positions, device);
  data.labeled_targets = long_tensor(targets, device);
  data.unlabeled_index = at::arange(static_cast<std::int64_t>(run.lt.size()),
                                    at::TensorOptions().dtype(at::kLong).device(device));
  if (run.truth_known) data.unlabeled_truth = run.labels;
  if (run.unlabeled_includes_labeled) {
    const at::Tensor marks = at::zeros({static_cast<std::int64_t>(run.lt.size())}, at::kBool);
    marks.index_fill_(0, long_tensor(run.labeled_positions, at::kCPU), true);
    data.unlabeled_is_labeled = marks.to(device);
  }
  data.test_images = run.test_images;
  data.test_labels = run.test_labels;
  data.class_names = run.class_names;
  for (std::int64_t n : count_by_class(targets, run.num_classes())) {
    data.class_prior.push_back(static_cast<double>(n) / static_cast<double>(targets.size()));
  }
  return data;
}

}  // namespace crest
